#include "sample/copy_metrics.h"

#include <ATen/ATen.h>

#include "audio/mel.h"

namespace diffwave {

CopyMetrics copy_metrics(const at::Tensor& ref_in, const at::Tensor& out_in, const MelSpectrogram& mel) {
  const int64_t n = std::min(ref_in.size(0), out_in.size(0));
  const auto ref = ref_in.slice(0, 0, n).to(at::kFloat), out = out_in.slice(0, 0, n).to(at::kFloat);
  CopyMetrics m;
  // The mel is mapped to [0, 1] from [-100, 0] dB, so 100 x its L1 distance is in dB.
  m.log_mel_l1_db = 100.0 * (mel(ref) - mel(out)).abs().mean().item<double>();
  const int sizes[] = {512, 1024, 2048};
  for (int fft : sizes) {
    const auto window = at::hann_window(fft, at::TensorOptions().dtype(at::kFloat));
    auto magnitude = [&](const at::Tensor& x) {
      return at::stft(x, fft, fft / 4, fft, window, /*center=*/true, "reflect", /*normalized=*/false,
                      /*onesided=*/true, /*return_complex=*/true)
          .abs()
          .clamp_min(1e-7);
    };
    const auto a = magnitude(ref), b = magnitude(out);
    m.spectral_convergence += (a - b).norm().item<double>() / std::max(a.norm().item<double>(), 1e-12) / 3.0;
    m.log_magnitude_l1 += (a.log() - b.log()).abs().mean().item<double>() / 3.0;
  }
  return m;
}

}  // namespace diffwave
