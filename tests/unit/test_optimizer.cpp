#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

using namespace diffwave;

TEST(Adam, MatchesLibTorchAdam) {
  torch::manual_seed(0);
  auto a = torch::randn({5, 7}, torch::requires_grad());
  auto b = a.detach().clone().requires_grad_(true);
  Adam ours({a}, AdamOptions{});
  torch::optim::Adam theirs({b}, torch::optim::AdamOptions(2e-4));
  for (int step = 0; step < 20; ++step) {
    auto target = torch::randn({5, 7});
    for (auto* p : {&a, &b}) {
      p->mutable_grad() = at::Tensor();
      (*p - target).abs().mean().backward();
    }
    ours.step();
    theirs.step();
    ASSERT_TRUE(torch::allclose(a, b, 0, 1e-7)) << "step " << step << " max diff " << (a - b).abs().max().item<float>();
  }
  EXPECT_EQ(ours.steps(), 20);
}

TEST(Adam, SkipsParametersWithoutGradient) {
  auto a = torch::ones({3}, torch::requires_grad());
  Adam opt({a}, AdamOptions{});
  opt.step();
  EXPECT_TRUE(torch::equal(a, torch::ones({3})));
}

TEST(Ema, MovesTowardTheWeights) {
  auto p = torch::zeros({2});
  Ema ema({p}, 0.9);
  p.fill_(1.0);
  ema.update({p}, 1);
  EXPECT_NEAR(ema.weights()[0][0].item<float>(), 0.1f, 1e-7);
  ema.update({p}, 2);
  EXPECT_NEAR(ema.weights()[0][0].item<float>(), 0.19f, 1e-6);
}

// With warm-up, update n uses min(decay, n / (n + 9)): 0.1, 2/11, 3/12, ... until the decay caps it.
TEST(Ema, WarmUpFollowsTheWeightsEarly) {
  auto p = torch::zeros({1}, torch::kDouble);
  Ema ema({p}, 0.5, /*warmup=*/true);
  double expected = 0;
  for (int64_t n = 1; n <= 12; ++n) {
    p.fill_(static_cast<double>(n));
    ema.update({p}, n);
    const double decay = std::min(0.5, double(n) / double(n + 9));
    expected = decay * expected + (1 - decay) * double(n);
    EXPECT_NEAR(ema.weights()[0][0].item<double>(), expected, 1e-12) << "update " << n;
  }
  EXPECT_DOUBLE_EQ(ema.decay_at(1), 0.1);
  EXPECT_DOUBLE_EQ(ema.decay_at(100000), 0.5);
  EXPECT_DOUBLE_EQ(Ema({p}, 0.9999).decay_at(1), 0.9999);  // without warm-up: the decay itself
}

TEST(LrSchedule, WarmupThenDecay) {
  LrSchedule s;
  s.peak = 1.0;
  s.floor = 0.1;
  s.warmup_steps = 10;
  s.total_steps = 110;
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(9), 1.0);
  EXPECT_DOUBLE_EQ(s.at(10), 1.0);  // constant by default
  s.decay = LrSchedule::Decay::linear;
  EXPECT_DOUBLE_EQ(s.at(60), 0.55);
  EXPECT_DOUBLE_EQ(s.at(1000), 0.1);
  s.decay = LrSchedule::Decay::cosine;
  EXPECT_NEAR(s.at(60), 0.55, 1e-12);
  EXPECT_NEAR(s.at(110), 0.1, 1e-12);
  EXPECT_THROW(LrSchedule::parse("step"), ConfigError);
}
