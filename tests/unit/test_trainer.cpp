// The trainer in-process (no mpirun): exact resume, the stop that checkpoints first, gradient
// accumulation, and the bucketed gradient average through a fake two-rank communicator. The
// end-to-end runs under mpirun are in tests/mpi/test_train_mpi.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>

#include "checkpoint/checkpoint_store.h"
#include "common/config.h"
#include "distributed/communicator.h"
#include "distributed/process_group.h"
#include "support/fixtures.h"
#include "support/prep_corpus.h"
#include "train/signals.h"
#include "train/trainer.h"

using namespace diffwave;
using namespace diffwave::test;

namespace {

// A second rank that always holds the same gradients: the mean over ranks is the tensor itself.
// Counts the all-reduces (from the reducer's communication thread).
class TwinRankComm final : public Communicator {
 public:
  explicit TwinRankComm(std::atomic<int>* reduces) : reduces_(reduces) {}
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string name() const override { return "twin"; }
  void all_reduce_mean(at::Tensor&) override { ++*reduces_; }
  void broadcast(at::Tensor&, int) override {}

 private:
  std::atomic<int>* reduces_;
};

class TrainerInProcess : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    corpus_ = new TempDir();
    std::filesystem::create_directories(*corpus_ / "wavs");
    for (unsigned i = 0; i < 12; ++i)
      write_tone(*corpus_ / ("wavs/utt" + std::to_string(100 + i) + ".wav"), 0.6 + 0.05 * i, i);
    const auto r = run_prep("--input " + *corpus_ / "wavs" + " --output " + *corpus_ / "prep" + " --config " +
                            source_path("configs/tiny.yaml") + " --set prep.validation_fraction=0.2");
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete corpus_;
    corpus_ = nullptr;
  }

  static Config config(int64_t max_steps, std::vector<std::string> extra = {}) {
    std::vector<std::string> sets{"train.max_steps=" + std::to_string(max_steps), "train.log_interval=1",
                                  "train.checkpoint_interval=1000", "train.validation_interval=0",
                                  "train.quality_interval=0", "train.batch_size=4"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    auto c = Config::load(source_path("configs/tiny.yaml"), sets);
    c.validate(1);
    return c;
  }
  int train(const std::string& run, const Config& c, std::unique_ptr<Communicator> comm = nullptr) {
    Trainer trainer(c, *corpus_ / "prep", runs_ / run, ProcessGroup::world(), std::move(comm));
    return trainer.run();
  }
  Checkpoint latest(const std::string& run) {
    const auto path = CheckpointStore::resolve(runs_ / run);
    EXPECT_TRUE(path) << "no checkpoint in " << run;
    return read_checkpoint(path ? *path : "");
  }
  // Every tensor of `a` equals `b`'s (model, EMA, Adam moments, RNG), bit for bit; or, with a
  // tolerance, the weights within it relative to their largest magnitude.
  static void expect_same(const Checkpoint& a, const Checkpoint& b, double rtol = 0) {
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    for (const auto& [name, t] : a.tensors) {
      const auto& u = b.tensor(name);
      if (rtol == 0) {
        EXPECT_TRUE(torch::equal(t, u)) << name;
      } else if (name.rfind("model/", 0) == 0) {
        EXPECT_TRUE(RelativelyClose(u.to(torch::kDouble), t.to(torch::kDouble), rtol)) << name;
      }
    }
  }

  static TempDir* corpus_;
  TempDir runs_;
};
TempDir* TrainerInProcess::corpus_ = nullptr;

TEST_F(TrainerInProcess, AResumedRunContinuesBitForBit) {
  ASSERT_EQ(train("whole", config(5)), 0);
  ASSERT_EQ(train("split", config(2)), 0);
  EXPECT_EQ(latest("split").meta("step"), "2");
  ASSERT_EQ(train("split", config(5)), 0);  // resumes at step 2
  const auto whole = latest("whole"), split = latest("split");
  EXPECT_EQ(split.meta("step"), "5");
  EXPECT_EQ(split.meta("adam_steps"), whole.meta("adam_steps"));
  EXPECT_EQ(split.meta("last_loss"), whole.meta("last_loss"));
  expect_same(whole, split);
}

TEST_F(TrainerInProcess, TheTimeLimitStopsWithACheckpointAndAsksForRequeue) {
  // Any step outlasts 1 ns: the first step's agreement says stop, the checkpoint comes first.
  ASSERT_EQ(train("stop", config(1000, {"train.max_time=1e-9", "train.validation_interval=1"})), kExitRequeue);
  const auto ck = latest("stop");
  EXPECT_EQ(ck.meta("step"), "1");
  EXPECT_EQ(ck.metadata.count("validation_loss"), 0u) << "validation ran before the stop's checkpoint";
  ASSERT_EQ(train("stop", config(3)), 0);  // and the run goes on from it
  EXPECT_EQ(latest("stop").meta("step"), "3");
}

TEST_F(TrainerInProcess, GradientAccumulationFollowsTheSameTrajectory) {
  ASSERT_EQ(train("one", config(4)), 0);
  ASSERT_EQ(train("two", config(4, {"train.grad_accumulation=2"})), 0);
  expect_same(latest("one"), latest("two"), 1e-4);
}

TEST_F(TrainerInProcess, TheBucketedAverageRunsOnceAStepAndChangesNothingBetweenEqualRanks) {
  std::atomic<int> plain = 0, accumulated = 0;
  // Small buckets: several all-reduces per step.
  ASSERT_EQ(train("alone", config(3)), 0);
  ASSERT_EQ(train("twin", config(3, {"train.bucket_cap_mb=0.01"}), std::make_unique<TwinRankComm>(&plain)), 0);
  ASSERT_EQ(train("twin-acc", config(3, {"train.bucket_cap_mb=0.01", "train.grad_accumulation=2"}),
                  std::make_unique<TwinRankComm>(&accumulated)),
            0);
  EXPECT_GT(plain.load(), 3 * 2) << "expected several buckets per step";
  EXPECT_EQ(plain.load() % 3, 0);
  // Accumulation communicates on the last micro-batch only: the same number of all-reduces.
  EXPECT_EQ(accumulated.load(), plain.load());
  // The mean of two equal gradients is the gradient: the run equals the lone rank's.
  expect_same(latest("alone"), latest("twin"));
}

}  // namespace
