#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/config.h"
#include "common/error.h"
#include "diffusion/diffusion.h"
#include "support/fixtures.h"

using namespace diffwave;

namespace {
DiffWave tiny(bool unconditional = false) { return test::perturbed_model(4, 2, 2, 1, unconditional); }
NoiseSchedule base_schedule() { return NoiseSchedule(Config{}.diffusion.noise_schedule.betas); }
}  // namespace

TEST(Diffusion, LossKindsMatchTheirDefinitions) {
  auto model = tiny();
  auto audio = torch::rand({2, 512}) * 2 - 1, mel = torch::rand({2, 80, 2});
  auto t = torch::tensor({0, 49}), noise = torch::randn({2, 512});
  auto level = noise_levels(base_schedule());
  auto pred = model->forward(add_noise(audio, t, noise, level), t, mel).squeeze(1);
  auto l1 = diffusion_loss(model, audio, mel, t, noise, level, LossKind::l1);
  auto l2 = diffusion_loss(model, audio, mel, t, noise, level, LossKind::l2);
  EXPECT_NEAR(l1.item<double>(), (noise - pred).abs().mean().item<double>(), 1e-6);
  EXPECT_NEAR(l2.item<double>(), (noise - pred).pow(2).mean().item<double>(), 1e-6);
  EXPECT_EQ(parse_loss("l2"), LossKind::l2);
  EXPECT_THROW(parse_loss("huber"), ConfigError);
}

TEST(Diffusion, ForwardNoisingEndpoints) {
  auto level = noise_levels(base_schedule());
  auto audio = torch::rand({1, 100}), noise = torch::randn({1, 100});
  // t = 0 keeps almost all signal; alpha_bar_0 = 1 - 1e-4.
  auto x0 = add_noise(audio, torch::tensor({0}), noise, level);
  EXPECT_TRUE(torch::allclose(x0, std::sqrt(1 - 1e-4) * audio + std::sqrt(1e-4) * noise, 0, 1e-5));  // float32 alpha_bar
}

TEST(Diffusion, SamplerRowsDoNotDependOnTheirBatch) {
  auto model = tiny();
  auto plan = SamplerPlan::fast(base_schedule(), Config{}.diffusion.inference_noise_schedule.betas);
  auto mel = torch::rand({2, 80, 3});
  auto gens = [](std::vector<uint64_t> seeds) {
    std::vector<at::Generator> g;
    for (auto s : seeds) g.push_back(at::make_generator<at::CPUGeneratorImpl>(s));
    return g;
  };
  auto opts = torch::TensorOptions().dtype(torch::kFloat);
  auto both = sample(model, plan, mel, 0, 0, per_row_noise(gens({11, 22})), opts);
  auto second = sample(model, plan, mel.slice(0, 1, 2), 0, 0, per_row_noise(gens({22})), opts);
  ASSERT_EQ(both.sizes(), (std::vector<int64_t>{2, 3 * 256}));
  EXPECT_TRUE(torch::allclose(both.slice(0, 1, 2), second, 0, 1e-5));
  EXPECT_LE(both.abs().max().item<float>(), 1.0f);
  auto again = sample(model, plan, mel, 0, 0, per_row_noise(gens({11, 22})), opts);
  EXPECT_TRUE(torch::equal(both, again));
}

TEST(Diffusion, UnconditionalSamplingHasRequestedLength) {
  auto model = tiny(true);
  auto plan = SamplerPlan::full(base_schedule());
  std::vector<at::Generator> g{at::make_generator<at::CPUGeneratorImpl>(5)};
  auto audio = sample(model, plan, {}, 1, 300, per_row_noise(g), torch::TensorOptions().dtype(torch::kFloat));
  EXPECT_EQ(audio.sizes(), (std::vector<int64_t>{1, 300}));
}

TEST(Diffusion, FastPlanOutsideTrainingRangeThrows) {
  EXPECT_THROW(SamplerPlan::fast(base_schedule(), {1e-4, 0.9}), Error);
}
