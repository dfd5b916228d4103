// The threaded parts without MPI, small enough for the TSan tier (tests/sanitize.sh -L tsan):
// the batch loader's prefetch thread against batches made on the caller's thread, stopping a
// loader mid-prefetch, and concurrent sampling workers (for_each_concurrently) on the CPU.
#include <ATen/CPUGeneratorImpl.h>

#include <atomic>
#include <stdexcept>

#include "common/error.h"
#include "data/manifest.h"
#include "data/shard_format.h"
#include "data/shard_writer.h"
#include "sample/concurrent_batches.h"
#include "support/prep_corpus.h"
#include "train/batch_loader.h"
#include "train/batch_plan.h"
#include "data/dataset.h"

using namespace diffwave;
using diffwave::test::TempDir;

namespace {

// A prepared corpus of `n` utterances in one shard (mels are arbitrary numbers: nothing here
// checks them against the audio).
Config write_corpus(const std::string& dir, int n) {
  Config c;
  c.audio.hop_samples = 64;
  c.audio.n_mels = 8;
  c.audio.n_fft = 256;
  std::filesystem::create_directories(dir + "/shards");
  ShardWriter w(dir + "/shards/shard-r0000-00000.h5", c.audio, c.prep);
  for (int i = 0; i < n; ++i) {
    auto x = test::test_tone(0.05 + 0.01 * i, 22050, static_cast<unsigned>(i));
    for (auto& v : x) v = from_pcm16(to_pcm16(v));
    const int64_t frames = mel_frames_for(static_cast<int64_t>(x.size()), c.audio.hop_samples);
    std::vector<float> mel(static_cast<size_t>(frames * c.audio.n_mels), 0.25f * static_cast<float>(i));
    w.add("utt" + std::to_string(i), x, mel.data(), frames, false);
  }
  w.finish();
  Manifest m;
  m.audio = c.audio;
  m.audio.win_length = c.audio.resolved_win_length();
  m.audio.f_max = c.audio.resolved_f_max();
  m.audio_dtype = "int16";
  m.compression = "none";
  m.shards = {{"shards/shard-r0000-00000.h5", "", 0, n, 0, 0.0}};
  m.save(dir + "/manifest.json");
  return c;
}

std::vector<int64_t> frame_lengths(const Dataset& data) {
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < data.size(); ++i) lengths.push_back(data.frames(i));
  return lengths;
}

bool same(const TrainingBatch& a, const TrainingBatch& b) {
  return a.step == b.step && a.audio.equal(b.audio) && a.mel.equal(b.mel) && a.t.equal(b.t) && a.noise.equal(b.noise);
}

}  // namespace

TEST(BatchLoaderThread, PrefetchedBatchesEqualBatchesMadeOnTheCaller) {
  TempDir dir;
  const Config c = write_corpus(dir.str(), 6);
  const Dataset data(dir.str(), c, false);
  const auto lengths = frame_lengths(data);
  const int64_t crop = 8;
  const BatchPlan plan(lengths, 2, crop, 50, 1234);
  const BatchPlan reference_plan(lengths, 2, crop, 50, 1234);  // the loader's plan caches; this one is ours
  BatchLoader loader(data, plan, 0, 1, crop, c.audio.hop_samples, c.audio.n_mels, false, 3, 2);
  for (int64_t step = 3; step < 12; ++step) {
    const TrainingBatch got = loader.next();
    TrainingBatch want = make_batch(data, reference_plan.rank_slice(step, 0, 1), crop, c.audio.hop_samples,
                                    c.audio.n_mels, false);
    want.step = step;
    ASSERT_TRUE(same(got, want)) << "step " << step;
  }
}

TEST(BatchLoaderThread, DestroyedWhilePrefetching) {
  TempDir dir;
  const Config c = write_corpus(dir.str(), 4);
  const Dataset data(dir.str(), c, false);
  const auto lengths = frame_lengths(data);
  const BatchPlan plan(lengths, 2, 4, 50, 7);
  for (int round = 0; round < 5; ++round) {
    BatchLoader loader(data, plan, 0, 1, 4, c.audio.hop_samples, c.audio.n_mels, false, 0, 3);
    if (round % 2) loader.next();
  }  // each destructor stops a thread that may be mid-batch
}

TEST(ConcurrentSampling, WorkersCoverEveryIndexOnceWithTheSameResults) {
  const size_t n = 24;
  std::vector<at::Tensor> sequential(n), concurrent(n);
  const auto work = [](size_t i) { return at::randn({64}, at::make_generator<at::CPUGeneratorImpl>(i)).cumsum(0); };
  for_each_concurrently(n, 1, at::kCPU, [&](size_t i) { sequential[i] = work(i); });
  std::vector<std::atomic<int>> calls(n);
  for_each_concurrently(n, 4, at::kCPU, [&](size_t i) {
    ++calls[i];
    concurrent[i] = work(i);
  });
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(calls[i].load(), 1) << i;
    EXPECT_TRUE(concurrent[i].equal(sequential[i])) << i;
  }
}

TEST(ConcurrentSampling, FirstFailureIsRethrownAfterEveryWorkerStopped) {
  std::atomic<int> running{0};
  EXPECT_THROW(for_each_concurrently(40, 3, at::kCPU,
                                     [&](size_t i) {
                                       ++running;
                                       if (i == 5) {
                                         --running;
                                         throw std::runtime_error("item 5");
                                       }
                                       at::ones({32}).sum().item<float>();
                                       --running;
                                     }),
               std::runtime_error);
  EXPECT_EQ(running.load(), 0);  // no worker still running when the exception arrives
}
