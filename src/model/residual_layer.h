// One residual layer of DiffWave: step projection added, dilated conv plus the mel conditioner,
// gated tanh, then a 1x1 conv split into the residual and skip paths (lmnt's ResidualBlock).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <utility>

namespace diffwave {

class ResidualLayerImpl : public torch::nn::Module {
 public:
  // n_mels = 0 builds the unconditional layer (no conditioner projection).
  ResidualLayerImpl(int64_t n_mels, int64_t channels, int64_t dilation);
  // x: [B, C, L]; step: [B or 1, 512]; mel_up: [B, n_mels, L] or undefined when unconditional.
  // Returns ((x + residual) / sqrt(2), skip), each [B, C, L].
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, const torch::Tensor& step,
                                                  const torch::Tensor& mel_up);
  // The same layer through the fused path (model/residual_layer_fused.h), also adding the skip
  // output to the running sum skip_in (undefined for the first layer): returns (x_out, skip sum).
  // A defined `cached` is this layer's conditioner term (conditioner_term()), used instead of mel_up.
  std::pair<torch::Tensor, torch::Tensor> forward_fused(const torch::Tensor& x, const torch::Tensor& step,
                                                        const torch::Tensor& mel_up, const torch::Tensor& skip_in,
                                                        const torch::Tensor& cached = {});
  // W_cond mel_up + biases, [B, 2C, L]: the part of the layer that is fixed over sampling steps.
  torch::Tensor conditioner_term(const torch::Tensor& mel_up, int64_t batch, int64_t length);

  torch::nn::Conv1d dilated_conv{nullptr}, conditioner_projection{nullptr}, output_projection{nullptr};
  torch::nn::Linear diffusion_projection{nullptr};
};
TORCH_MODULE(ResidualLayer);

// lmnt's Conv1d: Kaiming-normal weights, default bias.
torch::nn::Conv1d kaiming_conv1d(const torch::nn::Conv1dOptions& options);

}  // namespace diffwave
