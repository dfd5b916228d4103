// Forward noising, the training loss and the reverse (ancestral) sampler of DiffWave, with
// lmnt-com/diffwave's arithmetic. The model is passed in; nothing here knows ranks or files.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "diffusion/schedule.h"
#include "model/diffwave.h"

namespace diffwave {

enum class LossKind { l1, l2 };
LossKind parse_loss(const std::string& name);

// alpha_bar as a float32 tensor [T] (lmnt: numpy float64 cumprod, then cast).
at::Tensor noise_levels(const NoiseSchedule& schedule);

// x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, for audio [B, L], t [B], eps [B, L].
at::Tensor add_noise(const at::Tensor& audio, const at::Tensor& t, const at::Tensor& noise,
                     const at::Tensor& noise_level);

// Mean L1 (or L2) distance between eps and the model's prediction from x_t: lmnt's train step
// with t and eps supplied by the caller (so the batch plan, not this function, owns randomness).
at::Tensor diffusion_loss(DiffWave& model, const at::Tensor& audio, const at::Tensor& mel, const at::Tensor& t,
                          const at::Tensor& noise, const at::Tensor& noise_level, LossKind loss);

// The reverse process: inference betas, their cumulative products and the aligned (possibly
// fractional) training step at which the model is evaluated for each inference step.
struct SamplerPlan {
  std::vector<double> betas, alpha_bar;
  std::vector<float> model_steps;  // float32, as lmnt stores T
  static SamplerPlan full(const NoiseSchedule& train);
  // Throws Error naming the step when the schedule leaves the training range.
  static SamplerPlan fast(const NoiseSchedule& train, const std::vector<double>& inference_betas);
  int steps() const { return static_cast<int>(betas.size()); }
};

// Returns standard normal noise of the given shape; a sampler draws all its noise through it.
using NoiseFn = std::function<at::Tensor(at::IntArrayRef shape, at::TensorOptions options)>;
// Row i of every draw comes from generators[i], so a row's noise is independent of its batch.
NoiseFn per_row_noise(std::vector<at::Generator> generators);

// Runs the reverse process from noise to audio [B, length], clamped to [-1, 1] after every step
// as lmnt does. mel: [B, n_mels, frames] (length = frames * hop), or undefined for an
// unconditional model with `length` samples per row.
at::Tensor sample(DiffWave& model, const SamplerPlan& plan, const at::Tensor& mel, int64_t batch, int64_t length,
                  const NoiseFn& noise, at::TensorOptions options);

}  // namespace diffwave
