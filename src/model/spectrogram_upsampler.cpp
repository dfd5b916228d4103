#include "model/spectrogram_upsampler.h"

#include <string>

namespace diffwave {

SpectrogramUpsamplerImpl::SpectrogramUpsamplerImpl(const std::vector<int>& factors) {
  for (size_t i = 0; i < factors.size(); ++i) {
    const int64_t f = factors[i];
    // lmnt's stage for f = 16 is kernel [3, 32], stride [1, 16], padding [1, 8]. Kernel 2f - (f mod 2)
    // with padding floor(f / 2) keeps the output exactly f times longer for odd f too.
    auto opts = torch::nn::ConvTranspose2dOptions(1, 1, {3, 2 * f - f % 2}).stride({1, f}).padding({1, f / 2});
    stages_.push_back(register_module("conv" + std::to_string(i + 1), torch::nn::ConvTranspose2d(opts)));
  }
}

torch::Tensor SpectrogramUpsamplerImpl::forward(torch::Tensor mel) {
  auto x = mel.unsqueeze(1);
  for (auto& stage : stages_) x = torch::leaky_relu(stage(x), 0.4);
  return x.squeeze(1);
}

}  // namespace diffwave
