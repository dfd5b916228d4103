// diffwave-train end to end under mpirun on CPU: world-size invariance, exact resume, preemption
// signals, a frozen or killed rank, and TensorBoard files. Each test trains the tiny config on a
// small generated corpus for a few seconds.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "data/checksum.h"
#include "support/prep_corpus.h"
#include "checkpoint/checkpoint_store.h"
#include "train/signals.h"

namespace fs = std::filesystem;
using namespace diffwave;
using namespace diffwave::test;

namespace {

class TrainMpi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    corpus_ = new TempDir();
    fs::create_directories(*corpus_ / "wavs");
    for (unsigned i = 0; i < 24; ++i) write_tone(*corpus_ / ("wavs/utt" + std::to_string(100 + i) + ".wav"), 0.6 + 0.05 * i, i);
    auto r = run_prep("--input " + *corpus_ / "wavs" + " --output " + *corpus_ / "prep" + " --config " +
                      source_path("configs/tiny.yaml") + " --set prep.validation_fraction=0.15");
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete corpus_;
    corpus_ = nullptr;
  }

  // The training command line (without mpirun) for a run dir; quiet intervals unless asked.
  static std::string train_args(const std::string& run_dir, int64_t max_steps, const std::string& extra = "") {
    return bin_path("diffwave-train") + " --config " + source_path("configs/tiny.yaml") + " --data " +
           *corpus_ / "prep" + " --run-dir " + run_dir + " --max-steps " + std::to_string(max_steps) +
           " --log-interval 1 --checkpoint-interval 1000 --set train.validation_interval=0 --set train.quality_interval=0 " +
           extra;
  }
  static std::string mpirun(int ranks) {
    return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np " + std::to_string(ranks) +
           " --oversubscribe --bind-to none ";
  }
  static CommandResult train(int ranks, const std::string& run_dir, int64_t max_steps, const std::string& extra = "") {
    return run_command((ranks > 1 ? mpirun(ranks) : std::string()) + train_args(run_dir, max_steps, extra));
  }
  static Checkpoint latest(const std::string& run_dir) {
    auto path = CheckpointStore::resolve(run_dir);
    EXPECT_TRUE(path) << "no checkpoint in " << run_dir;
    return read_checkpoint(path ? *path : "");
  }
  // Starts training in the background, waits until `steps` progress lines were printed, then
  // runs `action` (a shell snippet; $RUN is the run dir, rank_pid R prints rank R's pid) and
  // waits for the job, at most `limit` seconds. Returns the job's exit status and its log.
  static CommandResult interrupt(int ranks, const std::string& run_dir, int steps, const std::string& action,
                                 int limit, const std::string& extra = "") {
    const auto script = run_dir + ".sh";
    std::ofstream(script) << "RUN=" << run_dir << "\nLOG=$RUN.log\n"
        << "rank_pid() { for p in $(pgrep -f \"diffwave-train.*run-dir $RUN \"); do\n"
        << "  tr '\\0' '\\n' < /proc/$p/environ | grep -qx OMPI_COMM_WORLD_RANK=$1 && echo $p; done; }\n"
        << "start=$(date +%s)\n"
        << "(" << mpirun(ranks) << train_args(run_dir, 1000000, extra) << " > $LOG 2>&1; echo $? > $RUN.rc) &\n"
        << "for i in $(seq 600); do [ \"$(grep -c '^step' $LOG 2>/dev/null)\" -ge " << steps
        << " ] 2>/dev/null && break; sleep 0.1; done\n"
        << action << "\n"
        << "for i in $(seq " << limit * 10 << "); do [ -f $RUN.rc ] && break; sleep 0.1; done\n"
        << "if [ ! -f $RUN.rc ]; then echo JOB STILL RUNNING; pkill -KILL -f \"run-dir $RUN \"; sleep 1; fi\n"
        << "echo elapsed $(( $(date +%s) - start )) s\ncat $LOG\nexit $(cat $RUN.rc 2>/dev/null || echo 99)\n";
    return run_command("bash " + script);
  }

  static TempDir* corpus_;
  TempDir runs_;
};
TempDir* TrainMpi::corpus_ = nullptr;

bool tensors_equal(const Checkpoint& a, const Checkpoint& b, double rtol) {
  for (const auto& [name, t] : a.tensors) {
    if (name.rfind("model/", 0) != 0) continue;
    const auto& u = b.tensor(name);
    const double scale = std::max(t.abs().max().item<double>(), 1e-12);
    const double err = (t.to(torch::kDouble) - u.to(torch::kDouble)).abs().max().item<double>() / scale;
    if (err > rtol) {
      ADD_FAILURE() << name << ": relative error " << err << " > " << rtol;
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_F(TrainMpi, OneAndTwoRanksFollowTheSameTrajectory) {
  auto one = train(1, runs_ / "np1", 8);
  ASSERT_EQ(one.status, 0) << one.output;
  auto two = train(2, runs_ / "np2", 8);
  ASSERT_EQ(two.status, 0) << two.output;
  auto a = latest(runs_ / "np1"), b = latest(runs_ / "np2");
  EXPECT_EQ(a.meta("step"), "8");
  EXPECT_EQ(b.meta("world_size"), "2");
  EXPECT_NEAR(std::stod(a.meta("last_loss")), std::stod(b.meta("last_loss")), 1e-5);
  EXPECT_TRUE(tensors_equal(a, b, 1e-4));
}

TEST_F(TrainMpi, ResumeIsBitExactWithTwoRanks) {
  ASSERT_EQ(train(2, runs_ / "straight", 10).status, 0);
  auto first = train(2, runs_ / "resumed", 5);
  ASSERT_EQ(first.status, 0) << first.output;
  auto second = train(2, runs_ / "resumed", 10);
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("resumed from"), std::string::npos) << second.output;
  // Same weights, optimiser state, EMA, losses and metadata: the files are byte-identical.
  auto r = run_command("cmp " + runs_ / "straight/checkpoints/step-000000010.safetensors" + " " +
                       runs_ / "resumed/checkpoints/step-000000010.safetensors");
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST_F(TrainMpi, ResumeWithADifferentNumberOfRanks) {
  ASSERT_EQ(train(2, runs_ / "ref", 8).status, 0);
  ASSERT_EQ(train(2, runs_ / "switch", 4).status, 0);
  auto r = train(1, runs_ / "switch", 8);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("written by 2 rank(s)"), std::string::npos) << r.output;
  EXPECT_TRUE(tensors_equal(latest(runs_ / "ref"), latest(runs_ / "switch"), 1e-4));
}

TEST_F(TrainMpi, SigtermCheckpointsAndExitsForRequeue) {
  const auto run = runs_ / "term";
  // Slurm signals every task of the step; here each rank gets SIGTERM directly.
  auto r = interrupt(2, run, 3, "kill -TERM $(rank_pid 0) $(rank_pid 1)", 30);
  EXPECT_EQ(r.status, kExitRequeue) << r.output;
  EXPECT_NE(r.output.find("stopping at step"), std::string::npos) << r.output;
  const auto step = std::stoll(latest(run).meta("step"));
  EXPECT_GE(step, 3);
  auto resumed = train(2, run, step + 2);
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos) << resumed.output;
}

TEST_F(TrainMpi, MaxTimeCheckpointsAndExitsForRequeue) {
  auto r = interrupt(2, runs_ / "clock", 1, "true", 60, "--max-time 3");
  EXPECT_EQ(r.status, kExitRequeue) << r.output;
  EXPECT_NE(r.output.find("time limit"), std::string::npos) << r.output;
}

TEST_F(TrainMpi, FrozenRankEndsTheJobWithinTheTimeout) {
  const auto run = runs_ / "stop";
  auto r = interrupt(2, run, 3, "kill -STOP $(rank_pid 1)", 40, "--comm-timeout 6");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("JOB STILL RUNNING"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stalled or behind: rank 1"), std::string::npos) << r.output;
  run_command("pkill -KILL -f 'run-dir " + run + " '");  // the frozen rank, if the launcher left it
}

// A rank that never reaches the first collective (here it blocks reading its config from a pipe
// nobody writes, as on a hung file system) ends the job at start-up, with the rank named.
TEST_F(TrainMpi, ARankThatNeverArrivesAtStartUpEndsTheJob) {
  const auto run = runs_ / "startup";
  const auto fifo = run + ".fifo";
  ASSERT_EQ(run_command("mkfifo " + fifo).status, 0);
  const auto args = train_args(run, 10, "--comm-timeout 3");
  auto stuck = args;
  stuck.replace(stuck.find(source_path("configs/tiny.yaml")), source_path("configs/tiny.yaml").size(), fifo);
  auto r = run_command("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 60 mpirun --oversubscribe "
                       "--bind-to none -np 1 " + args + " : -np 1 " + stuck);
  run_command("pkill -KILL -f 'run-dir " + run + " '");
  EXPECT_EQ(r.status, kExitStalled) << r.output;
  EXPECT_NE(r.output.find("diffwave-train: collective timed out"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'node split'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stalled or behind: rank 1 (no heartbeat)"), std::string::npos) << r.output;
}

// On a stop signal the checkpoint is written first, and validation and audio are skipped, so the
// scheduler's kill cannot fall on an unfinished checkpoint.
TEST_F(TrainMpi, AStopWritesTheCheckpointBeforeAnyValidation) {
  const auto run = runs_ / "stopfirst";
  auto r = interrupt(2, run, 2, "kill -TERM $(rank_pid 0)", 60,
                     "--set train.validation_interval=1 --set train.quality_interval=1");
  ASSERT_EQ(r.status, kExitRequeue) << r.output;
  const auto step = std::stoll(latest(run).meta("step"));
  EXPECT_NE(r.output.find(fmt::format("stopping at step {}", step)), std::string::npos) << r.output;
  // Every earlier step was validated; the stopping one was not.
  EXPECT_NE(r.output.find(fmt::format("step {:>8} | validation loss", step - 1)), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(fmt::format("step {:>8} | validation loss", step)), std::string::npos) << r.output;
}

TEST_F(TrainMpi, KilledRankEndsTheJobAndARerunResumes) {
  const auto run = runs_ / "kill";
  auto r = interrupt(2, run, 6, "kill -KILL $(rank_pid 1)", 30, "--checkpoint-interval 2");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("JOB STILL RUNNING"), std::string::npos) << r.output;
  const auto step = std::stoll(latest(run).meta("step"));
  auto resumed = train(2, run, step + 2);
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos) << resumed.output;
}

TEST_F(TrainMpi, TensorBoardReadsTheEventFiles) {
  if (const auto why = reference_python_lacks("tensorboard"); !why.empty()) GTEST_SKIP() << why;
  const std::string python = reference_python();
  const auto run = runs_ / "tb";
  auto r = train(2, run, 4, "--set train.validation_interval=2 --set train.quality_interval=4");
  ASSERT_EQ(r.status, 0) << r.output;
  auto events = run_command(python + " " + source_path("tests/reference/read_events.py") + " " + run);
  ASSERT_EQ(events.status, 0) << events.output;
  for (const char* tag : {"train/loss", "train/grad_norm", "train/learning_rate", "train/audio_samples_per_second",
                          "train/data_wait_seconds", "validation/loss", "validation/conditioning_gain", "validation/sample",
                          "quality/mr_stft", "quality/envelope_correlation", "quality/log_mel_l1_db",
                          "validation/spectrogram"})
    EXPECT_NE(events.output.find(tag), std::string::npos) << tag << "\n" << events.output;
}

// The README says Python's safetensors (or plain numpy) reads a checkpoint: every tensor, with
// its dtype, shape and exact bytes, and the metadata.
TEST_F(TrainMpi, SafetensorsAndNumpyReadTheCheckpoint) {
  if (const auto why = reference_python_lacks("safetensors, numpy"); !why.empty()) GTEST_SKIP() << why;
  const auto run = runs_ / "st";
  auto r = train(1, run, 3);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto path = CheckpointStore::resolve(run);
  ASSERT_TRUE(path);
  r = run_command("{ '" + reference_python() + "' '" + source_path("tests/reference/check_checkpoint.py") + "' '" +
                  *path + "' 2>'" + run + ".stderr'; }");
  ASSERT_EQ(r.status, 0) << r.output << run_command("cat '" + run + ".stderr'").output;
  const auto theirs = nlohmann::json::parse(r.output);
  const auto ours = read_checkpoint(*path);
  const std::map<c10::ScalarType, std::string> names = {
      {torch::kFloat64, "F64"}, {torch::kFloat32, "F32"}, {torch::kBFloat16, "BF16"}, {torch::kInt64, "I64"},
      {torch::kInt32, "I32"}, {torch::kUInt8, "U8"}, {torch::kBool, "BOOL"}};
  ASSERT_EQ(theirs["tensors"].size(), ours.tensors.size());
  for (const auto& [name, t] : ours.tensors) {
    ASSERT_TRUE(theirs["tensors"].contains(name)) << name;
    const auto& entry = theirs["tensors"][name];
    EXPECT_EQ(entry["dtype"].get<std::string>(), names.at(t.scalar_type())) << name;
    EXPECT_EQ(entry["shape"].get<std::vector<int64_t>>(), t.sizes().vec()) << name;
    const auto c = t.contiguous();
    EXPECT_EQ(entry["sha256"].get<std::string>(),
              Sha256().update(c.data_ptr(), c.numel() * c.element_size()).hex_digest()) << name;
  }
  EXPECT_GT(ours.tensors.size(), 40u);  // model, EMA, optimizer state, RNG
  for (const auto& [key, value] : ours.metadata) EXPECT_EQ(theirs["metadata"][key].get<std::string>(), value) << key;
  EXPECT_EQ(theirs["metadata"]["step"].get<std::string>(), "3");
}

TEST_F(TrainMpi, GradientAccumulationFollowsTheSameTrajectory) {
  ASSERT_EQ(train(1, runs_ / "acc1", 6).status, 0);
  auto r = train(2, runs_ / "acc2", 6, "--set train.grad_accumulation=2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(tensors_equal(latest(runs_ / "acc1"), latest(runs_ / "acc2"), 1e-4));
}

TEST_F(TrainMpi, NonFiniteStepsAreSkippedThenTheRunAborts) {
  // A learning rate this large drives the weights to infinity within a few steps.
  auto r = train(2, runs_ / "nan", 50, "--set train.learning_rate=1e30 --set train.lr_min=0 --set train.max_nonfinite_steps=3");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("step skipped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 consecutive steps with a non-finite gradient norm"), std::string::npos) << r.output;
}

TEST_F(TrainMpi, UnconditionalModelTrainsOnAudioCrops) {
  const auto run = runs_ / "uncond";
  auto r = train(2, run, 4,
                 "--set model.unconditional=true --set train.audio_len=4096 --set train.validation_interval=2 "
                 "--set train.quality_interval=4");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("validation loss"), std::string::npos) << r.output;
  auto ck = latest(run);
  EXPECT_EQ(ck.meta("step"), "4");
  EXPECT_THROW(ck.tensor("model/spectrogram_upsampler.conv1.weight"), DataError);
  EXPECT_NO_THROW(ck.tensor("model/residual_layers.0.dilated_conv.weight"));
}

TEST_F(TrainMpi, CudaGraphsOnTheCpuFailNamingTheKey) {
  auto r = train(1, runs_ / "graphs", 2, "--set train.device=cpu --set train.cuda_graphs=true");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("train.cuda_graphs (--set) needs a GPU"), std::string::npos) << r.output;
}

// Resume copies every tensor in place: a checkpoint that does not fit the run (a shape that
// would broadcast, another dtype, other betas or another loss) is refused, naming what differs.
TEST_F(TrainMpi, ResumeRefusesACheckpointThatDoesNotFit) {
  const auto run = runs_ / "fit";
  ASSERT_EQ(train(1, run, 2).status, 0);
  const auto good = read_checkpoint(*CheckpointStore::resolve(run));
  const auto refused = [&](const std::string& extra, const std::string& names) {
    const auto r = train(1, run, 3, extra);
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(names), std::string::npos) << r.output;
  };
  refused("--set diffusion.loss=l2", "diffusion.loss");
  refused("--set 'diffusion.noise_schedule={linear: {start: 1.0e-4, end: 0.06, steps: 50}}'", "diffusion.noise_schedule");
  for (const auto& [name, value] :
       {std::pair{std::string("model/residual_layers.0.dilated_conv.bias"), torch::zeros({1})},
        {"adam/exp_avg_sq/output_projection.bias", good.tensor("adam/exp_avg_sq/output_projection.bias").to(torch::kDouble)}}) {
    auto bad = good;
    bad.tensors[name] = value;
    write_checkpoint(*CheckpointStore::resolve(run), bad);
    refused("", name);
  }
  write_checkpoint(*CheckpointStore::resolve(run), good);
  const auto r = train(1, run, 3);
  EXPECT_EQ(r.status, 0) << r.output;
}
