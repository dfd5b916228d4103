// Mel upsampler: one ConvTranspose2d + leaky ReLU(0.4) stage per factor, stretching the frame
// axis by the product of the factors (the hop). lmnt hard-wires two stages of 16; any factors work.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <vector>

namespace diffwave {

class SpectrogramUpsamplerImpl : public torch::nn::Module {
 public:
  explicit SpectrogramUpsamplerImpl(const std::vector<int>& factors);
  // mel: [B, n_mels, frames] -> [B, n_mels, frames * prod(factors)]
  torch::Tensor forward(torch::Tensor mel);

 private:
  std::vector<torch::nn::ConvTranspose2d> stages_;  // registered as conv1, conv2, ...
};
TORCH_MODULE(SpectrogramUpsampler);

}  // namespace diffwave
