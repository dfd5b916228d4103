// Diffusion-step embedding: a fixed sinusoidal table (not a parameter, so not in the state dict,
// as in lmnt), rows interpolated for fractional steps, then two Linear + SiLU layers.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace diffwave {

class DiffusionEmbeddingImpl : public torch::nn::Module {
 public:
  explicit DiffusionEmbeddingImpl(int64_t max_steps);
  // steps: [B] integer (table rows) or floating (linear interpolation between rows) -> [B, 512].
  torch::Tensor forward(const torch::Tensor& steps);
  // The 128-wide table rows before the projections, for the given steps.
  torch::Tensor table_rows(const torch::Tensor& steps);

  torch::nn::Linear projection1{nullptr}, projection2{nullptr};

 private:
  torch::Tensor table_;  // [max_steps, 128], moved to the caller's device on first use there
};
TORCH_MODULE(DiffusionEmbedding);

}  // namespace diffwave
