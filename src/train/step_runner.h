// One optimiser step on this rank's part of a global batch: accumulation over micro-batches,
// the gradient average over ranks, clipping, Adam and the EMA. Two implementations with one
// interface: eager, and graphed (the whole step replayed as CUDA graphs, train.cuda_graphs). The
// trainer only says which; the arithmetic of the update itself lives in train/optimizer.h.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "diffusion/diffusion.h"
#include "model/diffwave.h"
#include "train/batch_loader.h"
#include "train/optimizer.h"

namespace diffwave {

class Communicator;

// What a step reads and updates; the tensors and optimiser are the trainer's.
struct StepParts {
  DiffWave model{nullptr};
  std::vector<at::Tensor> params;  // model->parameters(), in order
  Adam* adam = nullptr;
  Ema* ema = nullptr;
  at::Tensor noise_level;  // alpha_bar on the model's device
  LossKind loss = LossKind::l1;
  double max_grad_norm = 1e9;
  int grad_accumulation = 1;  // micro-batches per step; the batch's rows must divide by it
  bool bf16 = false;          // autocast the forward (CUDA only)
};

struct StepResult {
  double loss = 0;       // this rank's mean loss over its rows
  double grad_norm = 0;  // of the averaged gradient (the same on every rank), before clipping
  bool applied = false;  // false: the norm was not finite and nothing changed
};

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // One step at learning rate `lr`; one device-to-host read.
  virtual StepResult run(const TrainingBatch& batch, double lr) = 0;
  // Seconds this rank waited on gradient communication since the last call.
  double take_comm_wait() {
    const double w = comm_wait_;
    comm_wait_ = 0;
    return w;
  }

 protected:
  double comm_wait_ = 0;
};

// comm: when its size is above 1, gradients are averaged in buckets of bucket_cap_bytes handed
// to a communication thread during backward, only on the last micro-batch.
std::unique_ptr<StepRunner> make_eager_step(const StepParts& parts, Communicator& comm, size_t bucket_cap_bytes);
// Eager for the first few steps (cuDNN's algorithm search and lazy initialisation must not be
// captured), then the captured step replayed; with several ranks every bucket is averaged at
// once between the backward and the update graph. Needs a CUDA build and the model on a GPU.
std::unique_ptr<StepRunner> make_graphed_step(const StepParts& parts, Communicator& comm, size_t bucket_cap_bytes);

}  // namespace diffwave
