#include "diffusion/diffusion.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/utils.h>

#include <cmath>

#include "common/error.h"

namespace diffwave {

LossKind parse_loss(const std::string& name) {
  if (name == "l1") return LossKind::l1;
  if (name == "l2") return LossKind::l2;
  throw ConfigError(fmt::format("unknown loss '{}': expected l1 or l2", name));
}

at::Tensor noise_levels(const NoiseSchedule& schedule) {
  return at::tensor(schedule.alpha_bar, at::kDouble).to(at::kFloat);
}

at::Tensor add_noise(const at::Tensor& audio, const at::Tensor& t, const at::Tensor& noise,
                     const at::Tensor& noise_level) {
  auto scale = noise_level.to(audio.device()).index_select(0, t).unsqueeze(1);
  return at::pow(scale, 0.5) * audio + at::pow(1.0 - scale, 0.5) * noise;
}

at::Tensor diffusion_loss(DiffWave& model, const at::Tensor& audio, const at::Tensor& mel, const at::Tensor& t,
                          const at::Tensor& noise, const at::Tensor& noise_level, LossKind loss) {
  auto predicted = model->forward(add_noise(audio, t, noise, noise_level), t, mel).squeeze(1);
  return loss == LossKind::l1 ? at::l1_loss(noise, predicted) : at::mse_loss(noise, predicted);
}

SamplerPlan SamplerPlan::full(const NoiseSchedule& train) { return fast(train, train.betas); }

SamplerPlan SamplerPlan::fast(const NoiseSchedule& train, const std::vector<double>& inference_betas) {
  SamplerPlan plan;
  const NoiseSchedule inf(inference_betas);
  plan.betas = inf.betas;
  plan.alpha_bar = inf.alpha_bar;
  for (double s : align_inference_steps(train, inference_betas)) plan.model_steps.push_back(static_cast<float>(s));
  return plan;
}

NoiseFn per_row_noise(std::vector<at::Generator> generators) {
  return [gens = std::move(generators)](at::IntArrayRef shape, at::TensorOptions options) {
    if (shape.empty() || static_cast<size_t>(shape[0]) != gens.size())
      throw Error(fmt::format("per-row noise: {} generators for a batch of {}", gens.size(),
                              shape.empty() ? 0 : shape[0]));
    std::vector<int64_t> row_shape(shape.begin(), shape.end());
    row_shape[0] = 1;
    std::vector<at::Tensor> rows;
    for (const auto& g : gens) rows.push_back(at::randn(row_shape, g, options.device(at::kCPU)));
    return at::cat(rows, 0).to(options.device());
  };
}

at::Tensor sample(DiffWave& model, const SamplerPlan& plan, const at::Tensor& mel, int64_t batch, int64_t length,
                  const NoiseFn& noise, at::TensorOptions options) {
  torch::NoGradGuard no_grad;
  if (mel.defined()) {
    batch = mel.size(0);
    length = mel.size(-1) * model->options().hop();
  }
  auto audio = noise({batch, length}, options);
  const auto& beta = plan.betas;
  const auto& alpha_bar = plan.alpha_bar;
  for (int n = plan.steps() - 1; n >= 0; --n) {
    // lmnt's coefficients, in float64 with its operation order, applied to float32 tensors.
    const double c1 = 1.0 / std::pow(1.0 - beta[n], 0.5);
    const double c2 = beta[n] / std::pow(1.0 - alpha_bar[n], 0.5);
    auto step = at::full({1}, plan.model_steps[n], options.dtype(at::kFloat));
    audio = c1 * (audio - c2 * model->forward(audio, step, mel).squeeze(1));
    if (n > 0) {
      const double sigma = std::pow((1.0 - alpha_bar[n - 1]) / (1.0 - alpha_bar[n]) * beta[n], 0.5);
      audio += sigma * noise({batch, length}, options);
    }
    audio = at::clamp(audio, -1.0, 1.0);
  }
  return audio;
}

}  // namespace diffwave
