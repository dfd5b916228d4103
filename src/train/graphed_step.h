// One whole training step (forward, loss, backward, gradient clipping, Adam, EMA) captured once as
// a CUDA graph and replayed at every later step (train.cuda_graphs): crops give every step the
// same shapes, so thousands of kernel launches per step become one graph launch and the GPU no
// longer waits on the host. Adam runs as PyTorch's fused kernel (torch.optim.Adam(fused=True)
// arithmetic: equal to the eager update up to float rounding), which, like the EMA, leaves the
// weights alone on the device when the gradient norm is not finite. Two graphs: forward and
// backward, then clipping and the update; between them runs `between` (the gradient all-reduce
// of a multi-rank job, eager and not overlapped with backward).
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

#include "diffusion/diffusion.h"
#include "model/diffwave.h"
#include "train/batch_loader.h"
#include "train/optimizer.h"

namespace diffwave {

class GraphedStep {
 public:
  // Captures the step for batches shaped like `example`, updating `params` (all with gradients),
  // adam's and ema's state in place. Run a few eager steps first: cuDNN's algorithm search and
  // lazy initialisation must not happen during capture. Throws on a CPU model or a build
  // without CUDA.
  GraphedStep(DiffWave& model, const std::vector<at::Tensor>& params, Adam& adam, Ema& ema, double max_grad_norm,
              LossKind loss, const at::Tensor& noise_level, bool bf16, const TrainingBatch& example,
              std::function<void()> between = {});
  ~GraphedStep();
  GraphedStep(const GraphedStep&) = delete;
  GraphedStep& operator=(const GraphedStep&) = delete;

  // One step on `batch` (host tensors, copied asynchronously when pinned) at learning rate lr, as
  // Adam's update number adam.steps() + 1. Returns [loss, gradient norm] (float64, on the device);
  // the caller counts the Adam step when the norm is finite.
  at::Tensor run(const TrainingBatch& batch, double lr);

 private:
  struct Graph;
  std::unique_ptr<Graph> graph_;
  Adam& adam_;
  Ema& ema_;
  std::function<void()> between_;
  at::Tensor audio_, mel_, t_, noise_;  // captured inputs
  at::Tensor lr_, step_, ema_rate_;     // captured scalars (float32, on the device)
  at::Tensor result_;                   // captured output: [loss, norm]
};

}  // namespace diffwave
