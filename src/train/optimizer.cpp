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
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    auto grad = p.grad();
    if (options_.weight_decay != 0) grad = grad.add(p, options_.weight_decay);
    // The same operations, in the same order, as torch.optim.Adam's single-tensor path.
    exp_avg_[i].lerp_(grad, 1.0 - b1);
    exp_avg_sq_[i].mul_(b2).addcmul_(grad, grad, 1.0 - b2);
    auto denom = (exp_avg_sq_[i].sqrt() / bias2_sqrt).add_(options_.eps);
    p.addcdiv_(exp_avg_[i], denom, -step_size);
  }
}

Ema::Ema(const std::vector<at::Tensor>& params, double decay) : decay_(decay) {
  for (const auto& p : params) weights_.push_back(p.detach().clone());
}

void Ema::update(const std::vector<at::Tensor>& params) {
  c10::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) weights_[i].lerp_(params[i].detach(), 1.0 - decay_);
}

}  // namespace diffwave
