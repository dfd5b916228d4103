// diffwave-sample's reverse process in windows: one window is diffusion::sample exactly, chunked
// equals unchunked within the stated tolerance at the default overlap, a batch equals its rows
// sampled one by one, and the batch plan does not depend on the number of ranks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "common/config.h"
#include "common/seeds.h"
#include "diffusion/diffusion.h"
#include "sample/batches.h"
#include "sample/chunked_sampler.h"
#include "support/fixtures.h"

using namespace diffwave;

namespace {

// The tiny config's network with every weight perturbed (lmnt zero-initialises the output
// projection, which would make every prediction zero and hide window effects).
DiffWave perturbed_model(bool unconditional = false) {
  torch::set_num_threads(1);  // the machine is shared; one thread is also the fastest here
  auto model = test::perturbed_model(16, 6, 3, 7, unconditional);
  model->eval();
  return model;
}

SamplerPlan fast_plan() {
  const NoiseSchedule train(BetaSchedule::make_linear(1e-4, 0.05, 50).betas);
  return SamplerPlan::fast(train, {1e-4, 1e-3, 1e-2, 5e-2, 2e-1, 5e-1});
}

const std::vector<std::string> kIds{"LJ001-0001", "LJ001-0002"};
const auto kCpu = torch::TensorOptions().dtype(torch::kFloat);

torch::Tensor test_mel(int64_t rows, int64_t frames) {
  torch::manual_seed(11);
  return torch::rand({rows, 80, frames});
}

std::vector<Window> in_samples(std::vector<Window> w, int64_t hop) {
  for (auto& x : w) x = {x.begin * hop, x.end * hop, x.keep_begin * hop, x.keep_end * hop};
  return w;
}

}  // namespace

TEST(SampleWindows, OneWindowIsDiffusionSampleExactly) {
  auto model = perturbed_model();
  const auto plan = fast_plan();
  const auto mel = test_mel(2, 20);
  const int64_t length = 20 * 256;
  auto ours = sample_windows(model, plan, mel, 2, length, row_generators(5, kIds), plan_windows(length, 0, 0), kCpu);
  auto reference = sample(model, plan, mel, 2, length, per_row_noise(row_generators(5, kIds)), kCpu);
  EXPECT_TRUE(torch::equal(ours, reference));
}

TEST(SampleWindows, CachedConditionerGivesTheSameBits) {
  for (bool unconditional : {false, true}) {
    auto model = perturbed_model(unconditional);
    ASSERT_TRUE(model->uses_fused_layers(torch::zeros({1, 8})));
    const auto plan = fast_plan();
    const auto mel = unconditional ? torch::Tensor() : test_mel(2, 20);
    const int64_t length = 20 * 256;
    const auto windows = plan_windows(length, 0, 0);
    auto cached = sample_windows(model, plan, mel, 2, length, row_generators(5, kIds), windows, kCpu);
    auto uncached = sample_windows(model, plan, mel, 2, length, row_generators(5, kIds), windows, kCpu, false, 0);
    EXPECT_TRUE(torch::equal(cached, uncached)) << (unconditional ? "unconditional" : "conditional");
  }
}

TEST(SampleWindows, ChunkedEqualsUnchunkedAtTheDefaultOverlap) {
  auto model = perturbed_model();
  const auto plan = fast_plan();
  const int64_t frames = 60, hop = 256;
  const auto mel = test_mel(2, frames);
  const int64_t overlap = default_overlap(model->options(), plan.steps());
  EXPECT_EQ(overlap, 3);  // 6 steps x 14 samples of reach = 1 frame, + 2 for the upsampler
  auto whole = sample_windows(model, plan, mel, 2, 0, row_generators(5, kIds), in_samples(plan_windows(frames, 0, 0), hop), kCpu);
  auto windows = in_samples(plan_windows(frames, 16, overlap), hop);
  ASSERT_EQ(windows.size(), 4u);
  auto chunked = sample_windows(model, plan, mel, 2, 0, row_generators(5, kIds), windows, kCpu);
  const double diff = (whole - chunked).abs().max().item<double>();
  std::cout << "max |chunked - unchunked| at the default overlap (" << overlap << " frames): " << diff << "\n";
  EXPECT_LE(diff, 1e-4);
  // Without overlap the window edges show: the overlap is what makes the two agree.
  auto bare = sample_windows(model, plan, mel, 2, 0, row_generators(5, kIds), in_samples(plan_windows(frames, 16, 0), hop), kCpu);
  const double bare_diff = (whole - bare).abs().max().item<double>();
  std::cout << "max |chunked - unchunked| without overlap: " << bare_diff << "\n";
  EXPECT_GT(bare_diff, 100 * std::max(diff, 1e-7));
}

TEST(SampleWindows, UnconditionalChunksInSamples) {
  auto model = perturbed_model(true);
  const auto plan = fast_plan();
  const int64_t length = 6000;
  const int64_t overlap = default_overlap(model->options(), plan.steps());
  EXPECT_EQ(overlap, 84);
  auto whole = sample_windows(model, plan, {}, 2, length, row_generators(9, kIds), plan_windows(length, 0, 0), kCpu);
  auto chunked = sample_windows(model, plan, {}, 2, length, row_generators(9, kIds), plan_windows(length, 1000, overlap), kCpu);
  EXPECT_LE((whole - chunked).abs().max().item<double>(), 1e-4);
}

TEST(SampleWindows, ABatchEqualsItsRowsOneByOne) {
  auto model = perturbed_model();
  const auto plan = fast_plan();
  const auto mel = test_mel(2, 24);
  const auto windows = in_samples(plan_windows(24, 0, 0), 256);
  auto both = sample_windows(model, plan, mel, 2, 0, row_generators(3, kIds), windows, kCpu);
  double worst = 0;
  for (int64_t r = 0; r < 2; ++r) {
    auto one = sample_windows(model, plan, mel.slice(0, r, r + 1), 1, 0, row_generators(3, {kIds[r]}), windows, kCpu);
    worst = std::max(worst, (both[r] - one[0]).abs().max().item<double>());
  }
  std::cout << "max |batched - one by one|: " << worst << "\n";
  EXPECT_LE(worst, 1e-5);
}

TEST(SampleWindows, KeptPartsTileTheInput) {
  for (int64_t total : {1, 15, 16, 17, 100}) {
    const auto w = plan_windows(total, 16, 5);
    int64_t next = 0;
    for (const auto& x : w) {
      EXPECT_EQ(x.keep_begin, next);
      EXPECT_LE(x.begin, x.keep_begin);
      EXPECT_GE(x.end, x.keep_end);
      EXPECT_GE(x.begin, 0);
      EXPECT_LE(x.end, total);
      next = x.keep_end;
    }
    EXPECT_EQ(next, total);
  }
  EXPECT_THROW(plan_windows(0, 16, 5), std::exception);
}

TEST(SampleBatches, EqualLengthsSortedAndDealtWhole) {
  std::vector<SampleItem> items{{"c", 5}, {"a", 5}, {"b", 7}, {"d", 5}, {"e", 7}, {"f", 9}};
  const auto batches = make_batches(items, 2);
  // (a c) (d) (b e) (f): sorted by length then id, never mixing lengths.
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[0], (std::vector<size_t>{1, 0}));
  EXPECT_EQ(batches[1], (std::vector<size_t>{3}));
  EXPECT_EQ(batches[2], (std::vector<size_t>{2, 4}));
  EXPECT_EQ(batches[3], (std::vector<size_t>{5}));
  // Every world size deals the same batches, each exactly once.
  for (int world : {1, 2, 3, 5}) {
    std::set<std::vector<size_t>> seen;
    for (int r = 0; r < world; ++r)
      for (const auto& b : rank_batches(batches, r, world)) EXPECT_TRUE(seen.insert(b).second);
    EXPECT_EQ(seen, std::set<std::vector<size_t>>(batches.begin(), batches.end()));
  }
  EXPECT_THROW(make_batches({{"x", 1}, {"x", 2}}, 2), std::exception);
}

TEST(SampleBatches, SeedsDependOnTheIdOnly) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);  // the published FNV-1a 64 test vector
  auto a = row_generators(1, {"u1", "u2"}), b = row_generators(1, {"u2"});
  auto x = at::randn({8}, a[1]), y = at::randn({8}, b[0]);
  EXPECT_TRUE(torch::equal(x, y));
}
