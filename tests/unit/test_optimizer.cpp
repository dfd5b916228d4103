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
  ema.update({p});
  EXPECT_NEAR(ema.weights()[0][0].item<float>(), 0.1f, 1e-7);
  ema.update({p});
  EXPECT_NEAR(ema.weights()[0][0].item<float>(), 0.19f, 1e-6);
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
