#include "model/residual_layer.h"

#include <torch/nn/init.h>

#include <cmath>

#include "model/residual_layer_fused.h"

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

namespace {
ResidualLayerWeights weights_of(const ResidualLayerImpl& l) {
  return {l.dilated_conv->weight,
          l.dilated_conv->bias,
          l.conditioner_projection ? l.conditioner_projection->weight : torch::Tensor(),
          l.conditioner_projection ? l.conditioner_projection->bias : torch::Tensor(),
          l.output_projection->weight,
          l.output_projection->bias,
          l.dilated_conv->options.dilation()->at(0)};
}
}  // namespace

std::pair<torch::Tensor, torch::Tensor> ResidualLayerImpl::forward_fused(const torch::Tensor& x,
                                                                         const torch::Tensor& step,
                                                                         const torch::Tensor& mel_up,
                                                                         const torch::Tensor& skip_in,
                                                                         const torch::Tensor& cached) {
  return fused_residual_layer(x, diffusion_projection(step), mel_up, skip_in, weights_of(*this), cached);
}

torch::Tensor ResidualLayerImpl::conditioner_term(const torch::Tensor& mel_up, int64_t batch, int64_t length) {
  return diffwave::conditioner_term(mel_up, weights_of(*this), batch, length);
}

}  // namespace diffwave
