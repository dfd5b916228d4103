// Our model, loss, gradients and samplers against tensors dumped from lmnt-com/diffwave itself
// (tests/reference/make_fixtures.py), for a small model with fixed weights and inputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "diffusion/diffusion.h"
#include "support/fixtures.h"

using namespace diffwave;
using namespace diffwave::test;

namespace {

constexpr double kModelTolerance = 1e-5;  // fp32 outputs and gradients, relative (the bound)

class Reference : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    DiffWaveOptions o;
    o.residual_channels = file_.attribute_int("/", "residual_channels");
    o.residual_layers = file_.attribute_int("/", "residual_layers");
    o.dilation_cycle_length = file_.attribute_int("/", "dilation_cycle_length");
    o.n_mels = file_.attribute_int("/", "n_mels");
    o.diffusion_steps = static_cast<int64_t>(train_schedule_.betas.size());
    model_ = DiffWave(o);
    load_parameters(model_, file_, "/model");
  }

  H5File file_ = H5File::open(source_path("tests/fixtures/lmnt_reference.h5"));
  NoiseSchedule train_schedule_{file_.attribute_doubles("/", "noise_schedule")};
  DiffWave model_{nullptr};
};

TEST_F(Reference, StepEmbedding) {
  auto& emb = model_->diffusion_embedding;
  EXPECT_TRUE(RelativelyClose(emb(read_long_tensor(file_, "/inputs/t_int")), read_tensor(file_, "/outputs/embedding_int"),
                              kModelTolerance));
  auto t_frac = read_tensor(file_, "/inputs/t_frac");
  auto expected = read_tensor(file_, "/outputs/embedding_frac");
  EXPECT_TRUE(RelativelyClose(emb(t_frac).reshape(expected.sizes()), expected, kModelTolerance));
}

TEST_F(Reference, Upsampler) {
  EXPECT_TRUE(RelativelyClose(model_->spectrogram_upsampler(read_tensor(file_, "/inputs/mel")),
                              read_tensor(file_, "/outputs/upsampled"), kModelTolerance));
}

TEST_F(Reference, ModelOutputIntegerAndFractionalSteps) {
  auto audio = read_tensor(file_, "/inputs/audio");
  auto mel = read_tensor(file_, "/inputs/mel");
  EXPECT_TRUE(RelativelyClose(model_->forward(audio, read_long_tensor(file_, "/inputs/t_int"), mel),
                              read_tensor(file_, "/outputs/model_int"), kModelTolerance));
  auto expected = read_tensor(file_, "/outputs/model_frac");
  auto t_frac = read_tensor(file_, "/inputs/t_frac");
  // lmnt's interpolation broadcasts only a single fractional step; the fixture holds one batch
  // row per step when it had to evaluate them separately.
  for (int64_t i = 0; i < t_frac.size(0); ++i) {
    auto row = model_->forward(audio.slice(0, i, i + 1), t_frac.slice(0, i, i + 1), mel.slice(0, i, i + 1));
    EXPECT_TRUE(RelativelyClose(row, expected.slice(0, i, i + 1), kModelTolerance)) << "row " << i;
  }
}

TEST_F(Reference, NoiseLevels) {
  EXPECT_TRUE(torch::equal(noise_levels(train_schedule_), read_tensor(file_, "/train/noise_level")));
}

TEST_F(Reference, LossAndGradients) {
  auto audio = read_tensor(file_, "/inputs/audio");
  auto mel = read_tensor(file_, "/inputs/mel");
  auto t = read_long_tensor(file_, "/train/t");
  auto noise = read_tensor(file_, "/train/noise");
  auto level = noise_levels(train_schedule_);
  EXPECT_TRUE(RelativelyClose(add_noise(audio, t, noise, level), read_tensor(file_, "/train/noisy_audio"), 1e-6));
  model_->zero_grad();
  auto loss = diffusion_loss(model_, audio, mel, t, noise, level, LossKind::l1);
  EXPECT_TRUE(RelativelyClose(loss, read_tensor(file_, "/train/loss"), kModelTolerance));
  loss.backward();
  int checked = 0;
  for (const auto& p : model_->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(RelativelyClose(p.value().grad(), read_tensor(file_, "/train/grad/" + p.key()), kModelTolerance))
        << p.key();
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(file_.members("/train/grad").size()));
}

TEST_F(Reference, FastScheduleAlignment) {
  auto plan = SamplerPlan::fast(train_schedule_, file_.attribute_doubles("/", "inference_noise_schedule"));
  auto expected = read_tensor(file_, "/schedule/fast_T");
  ASSERT_EQ(static_cast<int64_t>(plan.model_steps.size()), expected.size(0));
  EXPECT_TRUE(torch::equal(torch::tensor(plan.model_steps), expected));
}

// Replays lmnt's recorded random draws through our sampler and compares the audio.
void check_sampler(const H5File& file, DiffWave& model, const SamplerPlan& plan, const std::string& group) {
  auto mel = read_tensor(file, group + "/mel");
  std::vector<torch::Tensor> draws;
  for (size_t i = 0; i < file.members(group + "/noise").size(); ++i)
    draws.push_back(read_tensor(file, group + "/noise/" + std::to_string(i)));
  ASSERT_EQ(draws.size(), static_cast<size_t>(plan.steps())) << "initial noise + one draw per step but the last";
  size_t next = 0;
  NoiseFn replay = [&](at::IntArrayRef shape, at::TensorOptions) {
    EXPECT_LT(next, draws.size());
    EXPECT_EQ(draws[next].sizes(), shape);
    return draws[next++];
  };
  auto audio = sample(model, plan, mel, 0, 0, replay, torch::TensorOptions().dtype(torch::kFloat));
  EXPECT_EQ(next, draws.size());
  EXPECT_TRUE(AbsolutelyClose(audio, read_tensor(file, group + "/audio"), 1e-4));
}

TEST_F(Reference, FastSamplerReplaysLmnt) {
  check_sampler(file_, model_, SamplerPlan::fast(train_schedule_, file_.attribute_doubles("/", "inference_noise_schedule")),
                "/sample/fast");
}

TEST_F(Reference, FullSamplerReplaysLmnt) {
  check_sampler(file_, model_, SamplerPlan::full(train_schedule_), "/sample/full");
}

TEST_F(Reference, BaseParameterCountEqualsLmnts) {
  DiffWave base(DiffWaveOptions{});
  EXPECT_EQ(base->parameter_count(), file_.attribute_int("/", "base_param_count"));
}

}  // namespace
