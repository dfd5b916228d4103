#include "train/graphed_step.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include "common/error.h"
#include "model/bf16_autocast.h"

#ifdef DIFFWAVE_HAVE_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace diffwave {

#ifdef DIFFWAVE_HAVE_CUDA
struct GraphedStep::Graph {
  at::cuda::CUDAGraph backward, update;
};

namespace {

at::Tensor on_device(const at::Tensor& x, const at::Device& device) {
  return x.defined() ? at::empty(x.sizes(), x.options().device(device).pinned_memory(false)) : x;
}

}  // namespace

GraphedStep::GraphedStep(const StepParts& parts, const TrainingBatch& example, std::function<void()> between)
    : graph_(std::make_unique<Graph>()), parts_(parts), between_(std::move(between)) {
  const auto& params = parts_.params;
  const auto device = params.front().device();
  if (!device.is_cuda()) throw Error("train.cuda_graphs needs the model on a GPU");
  audio_ = on_device(example.audio, device);
  mel_ = on_device(example.mel, device);
  t_ = on_device(example.t, device);
  noise_ = on_device(example.noise, device);
  const auto scalar = at::TensorOptions().dtype(at::kFloat).device(device);
  lr_ = at::zeros({}, scalar);
  ema_rate_ = at::zeros({}, scalar);
  step_ = at::ones({}, scalar);
  // The gradients the graph writes into are allocated inside it (from its private pool), as
  // PyTorch's whole-network capture recipe does: none may exist when capture starts. (DiffWave
  // uses every parameter in every step, so backward gives each one a gradient.)
  for (const auto& p : params) p.mutable_grad() = at::Tensor();

  const c10::cuda::CUDAGuard guard(device);
  auto stream = c10::cuda::getStreamFromPool(false, device.index());
  // The autocast weight cache would hand the graph casts freed after capture: off meanwhile.
  const bool cache = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);
  {
    const c10::cuda::CUDAStreamGuard on_stream(stream);
    stream.synchronize();
    graph_->backward.capture_begin();
    at::Tensor value;
    {
      Bf16Autocast autocast(parts_.bf16);
      value = diffusion_loss(parts_.model, audio_, mel_, t_, noise_, parts_.noise_level, parts_.loss);
    }
    value.backward();
    const auto loss_value = value.detach().to(at::kDouble);
    graph_->backward.capture_end();
    graph_->update.capture_begin();
    std::vector<at::Tensor> grads;
    for (const auto& p : params) grads.push_back(p.grad());
    // The eager clipping (it reads nothing back), then the finite check on the device.
    const auto norm = clip_grad_norm(params, parts_.max_grad_norm);
    const auto found_inf = at::logical_not(at::isfinite(norm)).to(at::kFloat);
    parts_.adam->fused_step(grads, lr_, step_, found_inf);
    parts_.ema->masked_update(params, ema_rate_, found_inf);
    result_ = at::stack({loss_value, norm.to(at::kDouble)});
    graph_->update.capture_end();
  }
  at::autocast::set_autocast_cache_enabled(cache);
}

at::Tensor GraphedStep::run(const TrainingBatch& batch, double lr) {
  audio_.copy_(batch.audio, /*non_blocking=*/true);
  if (mel_.defined()) mel_.copy_(batch.mel, true);
  t_.copy_(batch.t, true);
  noise_.copy_(batch.noise, true);
  lr_.fill_(lr);
  step_.fill_(static_cast<double>(parts_.adam->steps() + 1));
  ema_rate_.fill_(1.0 - parts_.ema->decay_at(parts_.adam->steps() + 1));
  graph_->backward.replay();
  if (between_) between_();
  graph_->update.replay();
  return result_;
}
#else
struct GraphedStep::Graph {};

GraphedStep::GraphedStep(const StepParts& parts, const TrainingBatch&, std::function<void()>) : parts_(parts) {
  throw Error("train.cuda_graphs: this build has no CUDA");
}

at::Tensor GraphedStep::run(const TrainingBatch&, double) { return result_; }
#endif

GraphedStep::~GraphedStep() = default;

}  // namespace diffwave
