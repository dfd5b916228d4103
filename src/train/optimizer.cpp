#include "train/optimizer.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <fmt/format.h>

#include <cmath>

#include "common/error.h"

namespace diffwave {

Adam::Adam(std::vector<at::Tensor> params, AdamOptions options) : params_(std::move(params)), options_(options) {
  for (const auto& p : params_) {
    exp_avg_.push_back(at::zeros_like(p));
    exp_avg_sq_.push_back(at::zeros_like(p));
  }
}

void Adam::step() {
  c10::NoGradGuard no_grad;
  ++step_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double bias2_sqrt = std::sqrt(1.0 - std::pow(b2, static_cast<double>(step_)));
  const double step_size = options_.lr / bias1;
  // The parameters that have a gradient, with their gradients and states.
  std::vector<at::Tensor> params, grads, exp_avg, exp_avg_sq;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].grad().defined()) continue;
    params.push_back(params_[i]);
    grads.push_back(params_[i].grad());
    exp_avg.push_back(exp_avg_[i]);
    exp_avg_sq.push_back(exp_avg_sq_[i]);
  }
  if (params.empty()) return;
  if (options_.weight_decay != 0) grads = at::_foreach_add(grads, params, options_.weight_decay);
  // torch.optim.Adam's arithmetic, operation for operation; the multi-tensor (_foreach) forms
  // launch a few kernels for all parameters on a GPU instead of five per parameter, and on a
  // CPU run the same per-tensor operations as the single-tensor path.
  at::_foreach_lerp_(exp_avg, grads, 1.0 - b1);
  at::_foreach_mul_(exp_avg_sq, b2);
  at::_foreach_addcmul_(exp_avg_sq, grads, grads, 1.0 - b2);
  auto denom = at::_foreach_sqrt(exp_avg_sq);
  at::_foreach_div_(denom, bias2_sqrt);
  at::_foreach_add_(denom, options_.eps);
  at::_foreach_addcdiv_(params, exp_avg, denom, -step_size);
}

void Adam::fused_step(const std::vector<at::Tensor>& grads, const at::Tensor& lr, const at::Tensor& step,
                      const at::Tensor& found_inf) {
  const std::vector<at::Tensor> steps(params_.size(), step);  // one count shared by every tensor
  at::_fused_adam_(params_, grads, exp_avg_, exp_avg_sq_, {}, steps, lr, options_.beta1, options_.beta2,
                   options_.weight_decay, options_.eps, /*amsgrad=*/false, /*maximize=*/false,
                   /*grad_scale=*/std::nullopt, found_inf);
}

at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return at::zeros({}, params.empty() ? at::TensorOptions() : params.front().options());
  // torch.nn.utils.clip_grad_norm_: the 2-norm of the per-tensor 2-norms, and every gradient
  // scaled by min(1, max_norm / (norm + 1e-6)).
  const auto total = at::linalg_vector_norm(at::stack(at::_foreach_norm(grads, 2)), 2);
  at::_foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp_max(1.0));
  return total;
}

Ema::Ema(const std::vector<at::Tensor>& params, double decay, bool warmup) : decay_(decay), warmup_(warmup) {
  for (const auto& p : params) weights_.push_back(p.detach().clone());
}

double Ema::decay_at(int64_t n) const {
  return warmup_ ? std::min(decay_, static_cast<double>(n) / static_cast<double>(n + 9)) : decay_;
}

void Ema::update(const std::vector<at::Tensor>& params, int64_t n) {
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> detached;
  for (const auto& p : params) detached.push_back(p.detach());
  at::_foreach_lerp_(weights_, detached, 1.0 - decay_at(n));
}

void Ema::masked_update(const std::vector<at::Tensor>& params, const at::Tensor& rate, const at::Tensor& found_inf) {
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> detached;
  for (const auto& p : params) detached.push_back(p.detach());
  auto delta = at::_foreach_sub(detached, weights_);
  at::_foreach_mul_(delta, (1.0 - found_inf) * rate);
  at::_foreach_add_(weights_, delta);
}

}  // namespace diffwave
