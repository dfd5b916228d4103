// The fused residual layer (CPU kernels + hand-written backward) against the reference op
// sequence: forward values and every gradient, for the layer and the whole model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "common/config.h"
#include "common/error.h"
#include "model/diffwave.h"
#include "model/residual_kernels_math.h"
#include "support/fixtures.h"

using namespace diffwave;

namespace {

double max_rel(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

// Random weights everywhere (lmnt zero-initialises nothing in a layer, but biases are small).
void randomise(torch::nn::Module& m, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.copy_(torch::randn_like(p) * 0.3);
}

struct LayerCase {
  int64_t n_mels, dilation, step_rows;
  bool with_skip_in, use_x_out;
};

}  // namespace

TEST(FusedKernels, SigmoidAndTanhApproximationsAreFloatAccurate) {
  double worst_sigmoid = 0, worst_tanh = 0;
  for (double x = -30.0; x <= 30.0; x += 0.00173) {
    const float f = static_cast<float>(x);
    worst_sigmoid = std::max(worst_sigmoid, std::abs(kernels::math::sigmoid(f) - 1.0 / (1.0 + std::exp(-double(f)))));
    const double t = std::tanh(double(f));
    worst_tanh = std::max(worst_tanh, std::abs(kernels::math::tanh(f) - t) / std::max(std::abs(t), 1e-3));
  }
  std::printf("max abs error sigmoid %.3g, max rel error tanh %.3g\n", worst_sigmoid, worst_tanh);
  EXPECT_LT(worst_sigmoid, 3e-7);
  EXPECT_LT(worst_tanh, 3e-7);
  // Tiny arguments keep their relative accuracy (no 1 - 2/(e^2x + 1) cancellation).
  EXPECT_NEAR(kernels::math::tanh(1e-6f) / 1e-6f, 1.0, 1e-6);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(kernels::math::tanh(inf), 1.0f);
  EXPECT_EQ(kernels::math::tanh(-inf), -1.0f);
  EXPECT_EQ(kernels::math::sigmoid(inf), 1.0f);
  EXPECT_LT(kernels::math::sigmoid(-inf), 1e-38f);  // e^-x saturates at e^88.4
  EXPECT_TRUE(std::isnan(kernels::math::tanh(std::nanf(""))));
  EXPECT_TRUE(std::isnan(kernels::math::sigmoid(std::nanf(""))));
}

TEST(FusedLayer, ForwardAndEveryGradientMatchTheReferenceOps) {
  const int64_t C = 8, B = 3, T = 67;
  for (const auto& c : {LayerCase{80, 1, 3, false, true}, LayerCase{80, 4, 1, true, true},
                        LayerCase{0, 2, 3, true, true}, LayerCase{16, 8, 1, true, false}}) {
    SCOPED_TRACE(::testing::Message() << "n_mels " << c.n_mels << " dilation " << c.dilation << " step rows "
                                      << c.step_rows << " skip_in " << c.with_skip_in << " x_out used " << c.use_x_out);
    ResidualLayer layer(c.n_mels, C, c.dilation);
    randomise(*layer, 7 + c.dilation);
    torch::manual_seed(11);
    auto x = torch::randn({B, C, T}).requires_grad_();
    auto step = torch::randn({c.step_rows, 512}).requires_grad_();
    auto mel = c.n_mels ? torch::randn({B, c.n_mels, T}).requires_grad_() : torch::Tensor();
    auto skip_in = c.with_skip_in ? torch::randn({B, C, T}).requires_grad_() : torch::Tensor();
    auto wx = torch::randn({B, C, T}), ws = torch::randn({B, C, T});

    // Runs the layer in `dtype`; the float64 reference is the ground truth both float paths are
    // measured against (their sums over B x T terms round differently).
    auto run = [&](bool fused, torch::Dtype dtype) {
      layer->to(dtype);
      layer->zero_grad();
      auto in = [&](const torch::Tensor& t) {
        return t.defined() ? t.detach().to(dtype).requires_grad_() : torch::Tensor();
      };
      auto xi = in(x), si = in(step), mi = in(mel), ki = in(skip_in);
      torch::Tensor x_out, skip;
      if (fused) {
        std::tie(x_out, skip) = layer->forward_fused(xi, si, mi, ki);
      } else {
        auto [next, part] = layer->forward(xi, si, mi);
        x_out = next;
        skip = ki.defined() ? part + ki : part;
      }
      auto loss = (skip * ws.to(dtype)).sum();
      if (c.use_x_out) loss = loss + (x_out * wx.to(dtype)).sum();
      loss.backward();
      std::vector<torch::Tensor> out{x_out.detach(), skip.detach()};
      for (auto& p : layer->parameters()) out.push_back(p.grad().clone());
      for (auto* t : {&xi, &si, &mi, &ki})
        if (t->defined()) out.push_back(t->grad().clone());
      for (auto& t : out) t = t.to(torch::kDouble);
      layer->to(torch::kFloat);
      return out;
    };
    const auto truth = run(false, torch::kDouble);
    const auto ref = run(false, torch::kFloat);
    const auto got = run(true, torch::kFloat);
    ASSERT_EQ(truth.size(), got.size());
    for (size_t i = 0; i < truth.size(); ++i) {
      ASSERT_TRUE(got[i].defined()) << "tensor " << i;
      EXPECT_EQ(got[i].sizes(), truth[i].sizes()) << "tensor " << i;
      const double err_fused = max_rel(got[i], truth[i]), err_ref = max_rel(ref[i], truth[i]);
      EXPECT_LT(err_fused, std::max(2 * err_ref, 1e-6)) << "tensor " << i << " (reference ops: " << err_ref << ")";
    }
  }
}

TEST(FusedLayer, InferenceEqualsTheTrainingForward) {
  ResidualLayer layer(80, 8, 2);
  randomise(*layer, 3);
  auto x = torch::randn({2, 8, 50}), step = torch::randn({1, 512}), mel = torch::randn({2, 80, 50});
  auto [a, sa] = layer->forward_fused(x, step, mel, {});
  torch::NoGradGuard no_grad;
  auto [b, sb] = layer->forward_fused(x, step, mel, {});
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(sa, sb));
}

TEST(FusedLayer, NonFiniteInputsStayNonFinite) {
  ResidualLayer layer(80, 4, 1);
  auto x = torch::randn({1, 4, 20});
  x[0][1][5] = std::numeric_limits<float>::quiet_NaN();
  torch::NoGradGuard no_grad;
  auto [out, skip] = layer->forward_fused(x, torch::randn({1, 512}), torch::randn({1, 80, 20}), {});
  EXPECT_FALSE(torch::isfinite(skip).all().item<bool>());
}

TEST(FusedModel, WholeModelMatchesTheReferenceAndIsTheCpuDefault) {
  auto run = [](LayerKernels kernels, bool unconditional, torch::Dtype dtype) {
    DiffWaveOptions o;
    o.residual_channels = 16;
    o.residual_layers = 6;
    o.dilation_cycle_length = 3;
    o.unconditional = unconditional;
    o.kernels = kernels;
    DiffWave model(o);
    randomise(*model, 5);
    model->to(dtype);
    torch::manual_seed(9);
    auto audio = (torch::rand({2, 1024}) * 2 - 1).to(dtype);
    auto mel = unconditional ? torch::Tensor() : torch::rand({2, 80, 4}).to(dtype);
    auto out = model->forward(audio, torch::tensor({3, 41}), mel);
    (out * out).sum().backward();
    std::vector<torch::Tensor> all{out.detach().to(torch::kDouble)};
    for (auto& p : model->parameters()) all.push_back(p.grad().to(torch::kDouble));
    return std::make_pair(all, model->uses_fused_layers(audio));
  };
  for (bool unconditional : {false, true}) {
    SCOPED_TRACE(unconditional ? "unconditional" : "conditional");
    auto truth = run(LayerKernels::reference, unconditional, torch::kDouble).first;
    auto [ref, ref_fused] = run(LayerKernels::reference, unconditional, torch::kFloat);
    auto [got, got_fused] = run(LayerKernels::automatic, unconditional, torch::kFloat);
    EXPECT_FALSE(ref_fused);
    EXPECT_TRUE(got_fused) << "auto must pick the fused layers on the CPU";
    double worst_fused = 0, worst_ref = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      const double err_fused = max_rel(got[i], truth[i]), err_ref = max_rel(ref[i], truth[i]);
      worst_fused = std::max(worst_fused, err_fused);
      worst_ref = std::max(worst_ref, err_ref);
      EXPECT_LT(err_fused, std::max(2 * err_ref, 2e-6)) << "tensor " << i << " (reference ops: " << err_ref << ")";
    }
    std::printf("max rel error against float64: fused %.3g, reference ops %.3g\n", worst_fused, worst_ref);
  }
}

TEST(FusedModel, KernelsKeyIsChecked) {
  EXPECT_EQ(Config::load("", {"model.kernels=reference"}).model.kernels, "reference");
  try {
    Config::load("", {"model.kernels=fast"}).validate();
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.kernels"), std::string::npos) << e.what();
  }
}
