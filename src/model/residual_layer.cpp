#include "model/residual_layer.h"

#include <torch/nn/init.h>

#include <cmath>

namespace diffwave {

torch::nn::Conv1d kaiming_conv1d(const torch::nn::Conv1dOptions& options) {
  torch::nn::Conv1d conv(options);
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_normal_(conv->weight);
  return conv;
}

ResidualLayerImpl::ResidualLayerImpl(int64_t n_mels, int64_t channels, int64_t dilation) {
  // Registration order follows lmnt's, so parameters enumerate in the same order.
  dilated_conv = register_module(
      "dilated_conv", kaiming_conv1d(torch::nn::Conv1dOptions(channels, 2 * channels, 3).padding(dilation).dilation(dilation)));
  diffusion_projection = register_module("diffusion_projection", torch::nn::Linear(512, channels));
  if (n_mels > 0)
    conditioner_projection =
        register_module("conditioner_projection", kaiming_conv1d(torch::nn::Conv1dOptions(n_mels, 2 * channels, 1)));
  output_projection =
      register_module("output_projection", kaiming_conv1d(torch::nn::Conv1dOptions(channels, 2 * channels, 1)));
}

std::pair<torch::Tensor, torch::Tensor> ResidualLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& step,
                                                                   const torch::Tensor& mel_up) {
  auto y = x + diffusion_projection(step).unsqueeze(-1);
  y = dilated_conv(y);
  if (conditioner_projection) y = y + conditioner_projection(mel_up);
  auto halves = torch::chunk(y, 2, 1);
  y = torch::sigmoid(halves[0]) * torch::tanh(halves[1]);  // gate first, then filter (lmnt order)
  auto out = torch::chunk(output_projection(y), 2, 1);
  return {(x + out[0]) / std::sqrt(2.0), out[1]};
}

}  // namespace diffwave
