// The graphed step runner's capture (train/step_runner.h): one whole training step (forward,
// loss, backward, gradient clipping, Adam, EMA) captured once as CUDA graphs and replayed at every
// later step: crops give every step the same shapes, so thousands of kernel launches per step
// become one graph launch and the GPU no longer waits on the host. Adam and the EMA run in their
// graph forms (Adam::fused_step, Ema::masked_update), which leave the weights alone on the device
// when the gradient norm is not finite. Two graphs: forward and backward, then clipping and the
// update; between them runs `between` (the gradient all-reduce of a multi-rank job, eager and not
// overlapped with backward).
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

#include "train/batch_loader.h"
#include "train/step_runner.h"

namespace diffwave {

class GraphedStep {
 public:
  // Captures the step for batches shaped like `example`, updating the parts' parameters (all
  // with gradients), Adam's and the EMA's state in place. Run a few eager steps first: cuDNN's
  // algorithm search and lazy initialisation must not happen during capture. The rank's whole
  // batch in one pass (train.grad_accumulation gives the same mean gradient up to rounding).
  // Throws on a CPU model or a build without CUDA.
  GraphedStep(const StepParts& parts, const TrainingBatch& example, std::function<void()> between = {});
  ~GraphedStep();
  GraphedStep(const GraphedStep&) = delete;
  GraphedStep& operator=(const GraphedStep&) = delete;

  // One step on `batch` (host tensors, copied asynchronously when pinned) at learning rate lr, as
  // Adam's update number steps() + 1. Returns [loss, gradient norm] (float64, on the device);
  // the caller counts the Adam step (Adam::count_step) when the norm is finite.
  at::Tensor run(const TrainingBatch& batch, double lr);

 private:
  struct Graph;
  std::unique_ptr<Graph> graph_;
  StepParts parts_;
  std::function<void()> between_;
  at::Tensor audio_, mel_, t_, noise_;  // captured inputs
  at::Tensor lr_, step_, ema_rate_;     // captured scalars (float32, on the device)
  at::Tensor result_;                   // captured output: [loss, norm]
};

}  // namespace diffwave
