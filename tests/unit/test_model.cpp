#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/config.h"
#include "common/error.h"
#include "model/diffwave.h"

using namespace diffwave;

namespace {
DiffWaveOptions options(int64_t channels, int64_t layers, int64_t cycle, bool unconditional = false,
                        std::vector<int> factors = {16, 16}) {
  DiffWaveOptions o;
  o.residual_channels = channels;
  o.residual_layers = layers;
  o.dilation_cycle_length = cycle;
  o.unconditional = unconditional;
  o.upsample_factors = std::move(factors);
  return o;
}
}  // namespace

TEST(Model, ParameterCountsMatchLmnt) {
  EXPECT_EQ(DiffWave(options(64, 30, 10))->parameter_count(), 2619971);
  EXPECT_EQ(DiffWave(options(128, 30, 10))->parameter_count(), 6885315);
  EXPECT_EQ(DiffWave(options(64, 30, 10, true))->parameter_count(), 2308737);
}

TEST(Model, StateDictNamesAreLmnts) {
  DiffWave model(options(8, 3, 2));
  std::vector<std::string> names;
  for (const auto& p : model->named_parameters()) names.push_back(p.key());
  const std::vector<std::string> expected_prefix{
      "input_projection.weight", "input_projection.bias",
      "diffusion_embedding.projection1.weight", "diffusion_embedding.projection1.bias",
      "diffusion_embedding.projection2.weight", "diffusion_embedding.projection2.bias",
      "spectrogram_upsampler.conv1.weight", "spectrogram_upsampler.conv1.bias",
      "spectrogram_upsampler.conv2.weight", "spectrogram_upsampler.conv2.bias",
      "residual_layers.0.dilated_conv.weight", "residual_layers.0.dilated_conv.bias",
      "residual_layers.0.diffusion_projection.weight", "residual_layers.0.diffusion_projection.bias",
      "residual_layers.0.conditioner_projection.weight", "residual_layers.0.conditioner_projection.bias",
      "residual_layers.0.output_projection.weight", "residual_layers.0.output_projection.bias"};
  ASSERT_GE(names.size(), expected_prefix.size());
  for (size_t i = 0; i < expected_prefix.size(); ++i) EXPECT_EQ(names[i], expected_prefix[i]);
  EXPECT_EQ(names.back(), "output_projection.bias");
  EXPECT_TRUE(model->named_buffers().is_empty()) << "the step table must not be in the state dict";
  // lmnt starts from a zero output projection weight, so the first prediction is the bias.
  EXPECT_EQ(model->output_projection->weight.abs().sum().item<float>(), 0.0f);
}

TEST(Model, DilationsCycle) {
  DiffWave model(options(4, 5, 2));
  std::vector<int64_t> dilations;
  for (const auto& m : model->residual_layers->children())
    dilations.push_back(m->as<ResidualLayerImpl>()->dilated_conv->options.dilation()->at(0));
  EXPECT_EQ(dilations, (std::vector<int64_t>{1, 2, 1, 2, 1}));
}

TEST(Model, AnyHopUpsamplesExactly) {
  for (auto factors : std::vector<std::vector<int>>{{16, 16}, {15, 20}, {5, 5, 12}, {7}}) {
    DiffWave model(options(4, 2, 2, false, factors));
    const int64_t hop = model->options().hop(), frames = 5;
    auto mel = torch::rand({2, 80, frames});
    EXPECT_EQ(model->spectrogram_upsampler(mel).sizes(), (std::vector<int64_t>{2, 80, frames * hop}));
    auto out = model->forward(torch::randn({2, frames * hop}), torch::tensor({1, 7}), mel);
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 1, frames * hop}));
  }
}

TEST(Model, UnconditionalTakesNoMel) {
  DiffWave model(options(4, 2, 2, true));
  EXPECT_FALSE(model->spectrogram_upsampler);
  auto out = model->forward(torch::randn({3, 100}), torch::tensor({0, 1, 2}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 1, 100}));
  EXPECT_THROW(model->forward(torch::randn({1, 256}), torch::tensor({0}), torch::rand({1, 80, 1})), Error);
}

TEST(Model, MismatchedMelIsAnError) {
  DiffWave model(options(4, 2, 2));
  EXPECT_THROW(model->forward(torch::randn({1, 1000}), torch::tensor({0}), torch::rand({1, 80, 4})), Error);
  EXPECT_THROW(model->forward(torch::randn({1, 1024}), torch::tensor({0})), Error);
}

TEST(Model, FractionalStepInterpolatesTableRows) {
  DiffWave model(options(4, 2, 2));
  auto& emb = model->diffusion_embedding;
  auto rows = emb->table_rows(torch::tensor({3, 4}));
  auto mid = emb->table_rows(torch::tensor({3.25f}));
  EXPECT_TRUE(torch::allclose(mid[0], rows[0] + 0.25 * (rows[1] - rows[0]), 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal(emb->table_rows(torch::tensor({4.0f})), rows.slice(0, 1, 2)));
}

TEST(Model, FromConfigUsesConfiguredShape) {
  auto c = Config::load("", {"model.residual_channels=8", "model.residual_layers=4"});
  DiffWave model(DiffWaveOptions::from_config(c.model, c.audio.n_mels, 50));
  EXPECT_EQ(model->options().residual_channels, 8);
  EXPECT_EQ(model->residual_layers->size(), 4u);
}
