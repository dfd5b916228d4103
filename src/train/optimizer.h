// All the update arithmetic of training: Adam with PyTorch's arithmetic (lmnt trains with
// torch.optim.Adam, default betas), gradient clipping and the weight average, each in an eager
// form and, for Adam and the average, a form for CUDA graphs (device tensors for every scalar,
// nothing read back). State is held as plain tensors so checkpoints store and restore it exactly
// (checkpoint/train_state.h).
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

namespace diffwave {

struct AdamOptions {
  double lr = 2e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class Adam {
 public:
  Adam(std::vector<at::Tensor> params, AdamOptions options);
  // One update from the parameters' .grad(); parameters without a gradient are left alone.
  void step();
  // The same update as PyTorch's fused kernel (torch.optim.Adam(fused=True): equal to step() up
  // to float rounding), for capture in a CUDA graph: lr and step (the update's 1-based number)
  // are 0-d float32 device tensors filled before each replay, and nothing changes where
  // found_inf is 1. The step count does not advance: call count_step() once the update is known
  // to have been applied.
  void fused_step(const std::vector<at::Tensor>& grads, const at::Tensor& lr, const at::Tensor& step,
                  const at::Tensor& found_inf);
  void count_step() { ++step_; }
  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  const AdamOptions& options() const { return options_; }

  int64_t steps() const { return step_; }
  void set_steps(int64_t s) { step_ = s; }
  std::vector<at::Tensor>& exp_avg() { return exp_avg_; }
  std::vector<at::Tensor>& exp_avg_sq() { return exp_avg_sq_; }

 private:
  std::vector<at::Tensor> params_, exp_avg_, exp_avg_sq_;
  AdamOptions options_;
  int64_t step_ = 0;
};

// Scales the gradients of `params` as torch.nn.utils.clip_grad_norm_ does and returns the total
// gradient 2-norm as a 0-d tensor on the gradients' device (reading it is the caller's sync).
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

// Exponential moving average of the weights: ema = decay * ema + (1 - decay) * param.
// With warm-up (train.ema_warmup), update n (1-based) uses decay min(decay, n / (n + 9)), i.e.
// min(decay, (1 + k) / (10 + k)) for k = n - 1 earlier updates, as common training code does: the
// average follows the weights early instead of keeping most of the random initialisation for
// tens of thousands of steps (at 0.9999, 76 % of it after 2,750).
class Ema {
 public:
  Ema(const std::vector<at::Tensor>& params, double decay, bool warmup = false);
  // Update number n (1-based: the optimiser's step count after its step).
  void update(const std::vector<at::Tensor>& params, int64_t n);
  // ema += rate * (param - ema) with `rate` (1 - decay_at(n)) a 0-d device tensor, skipped
  // where found_inf is 1: the form captured in a CUDA graph.
  void masked_update(const std::vector<at::Tensor>& params, const at::Tensor& rate, const at::Tensor& found_inf);
  double decay_at(int64_t n) const;
  std::vector<at::Tensor>& weights() { return weights_; }

 private:
  std::vector<at::Tensor> weights_;
  double decay_;
  bool warmup_;
};

}  // namespace diffwave
