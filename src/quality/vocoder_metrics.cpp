#include "quality/vocoder_metrics.h"

#include <ATen/ATen.h>

#include <fmt/format.h>

#include <cmath>

#include "audio/mel.h"
#include "common/error.h"

namespace diffwave {

namespace {

at::Tensor stft_magnitude(const at::Tensor& x, const StftResolution& r, double eps) {
  const auto window = at::hann_window(r.window, at::TensorOptions().dtype(at::kFloat));
  const auto s = at::stft(x, r.fft, r.hop, r.window, window, /*center=*/true, "reflect", /*normalized=*/false,
                          /*onesided=*/true, /*return_complex=*/true);
  return (at::real(s).square() + at::imag(s).square()).clamp_min(eps).sqrt();
}

}  // namespace

StftDistance multi_resolution_stft(const at::Tensor& ref, const at::Tensor& out,
                                   const std::vector<StftResolution>& resolutions, double eps) {
  StftDistance d;
  const double n = static_cast<double>(resolutions.size());
  for (const auto& r : resolutions) {
    const auto a = stft_magnitude(ref, r, eps), b = stft_magnitude(out, r, eps);
    d.spectral_convergence += (a - b).norm().item<double>() / std::max(a.norm().item<double>(), 1e-12) / n;
    d.log_magnitude_l1 += (a.log() - b.log()).abs().mean().item<double>() / n;
  }
  return d;
}

double envelope_correlation(const at::Tensor& ref, const at::Tensor& out) {
  constexpr int64_t kFrame = 1024, kHop = 256;
  auto energies = [](const at::Tensor& x) {
    return (x.to(at::kDouble).unfold(0, kFrame, kHop).square().sum(1) + 1e-10).log();
  };
  if (ref.size(0) < kFrame + kHop) return std::nan("");  // fewer than two frames
  const auto a = energies(ref), b = energies(out);
  const auto da = a - a.mean(), db = b - b.mean();
  const double denominator = std::sqrt(da.square().sum().item<double>() * db.square().sum().item<double>());
  return denominator > 0 ? (da * db).sum().item<double>() / denominator : std::nan("");
}

std::vector<std::string> VocoderMetrics::names() {
  return {"log_mel_l1_db",        "mr_stft", "spectral_convergence", "log_magnitude_l1",
          "envelope_correlation", "mr_stft_quarter_hop"};
}

std::vector<double> VocoderMetrics::values() const {
  return {log_mel_l1_db, mr_stft.total(), mr_stft.spectral_convergence, mr_stft.log_magnitude_l1,
          envelope_correlation, mr_stft_quarter_hop};
}

VocoderMetrics VocoderMetrics::from_values(const std::vector<double>& v) {
  if (v.size() != names().size())
    throw Error(fmt::format("vocoder metrics: {} values, expected {}", v.size(), names().size()));
  VocoderMetrics m;
  m.log_mel_l1_db = v[0];
  m.mr_stft.spectral_convergence = v[2];
  m.mr_stft.log_magnitude_l1 = v[3];
  m.envelope_correlation = v[4];
  m.mr_stft_quarter_hop = v[5];
  return m;
}

VocoderMetrics vocoder_metrics(const at::Tensor& ref_in, const at::Tensor& out_in, const MelSpectrogram& mel) {
  const int64_t n = std::min(ref_in.size(0), out_in.size(0));
  const auto ref = ref_in.slice(0, 0, n).to(at::kFloat), out = out_in.slice(0, 0, n).to(at::kFloat);
  VocoderMetrics m;
  // The mel is mapped to [0, 1] from [-100, 0] dB, so 100 x its L1 distance is in dB.
  m.log_mel_l1_db = 100.0 * (mel(ref) - mel(out)).abs().mean().item<double>();
  m.mr_stft = multi_resolution_stft(
      ref, out, std::vector<StftResolution>(std::begin(kPaperStftResolutions), std::end(kPaperStftResolutions)));
  m.envelope_correlation = envelope_correlation(ref, out);
  m.mr_stft_quarter_hop = multi_resolution_stft(ref, out, {{512, 128, 512}, {1024, 256, 1024}, {2048, 512, 2048}},
                                                /*eps=*/1e-14)
                              .total();
  return m;
}

}  // namespace diffwave
