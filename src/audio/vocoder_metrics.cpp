#include "audio/vocoder_metrics.h"

#include <ATen/ATen.h>

#include <fmt/format.h>

#include <cmath>

#include "audio/mel.h"
#include "common/error.h"
#include "audio/mel_cepstrum.h"
#include "audio/pitch.h"

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
          "envelope_correlation", "mr_stft_quarter_hop", "mcd_db", "log_f0_rmse_cents", "vuv_error"};
}

std::vector<double> VocoderMetrics::values() const {
  return {log_mel_l1_db, mr_stft.total(), mr_stft.spectral_convergence, mr_stft.log_magnitude_l1,
          envelope_correlation, mr_stft_quarter_hop, mcd_db, log_f0_rmse_cents, vuv_error};
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
  m.mcd_db = v[6];
  m.log_f0_rmse_cents = v[7];
  m.vuv_error = v[8];
  return m;
}

std::vector<double> mean_over_files(const std::vector<std::vector<double>>& rows) {
  const size_t columns = rows.empty() ? 0 : rows[0].size();
  std::vector<double> sums(columns, 0.0), counts(columns, 0.0);
  for (const auto& row : rows) {
    if (row.size() != columns) throw Error(fmt::format("vocoder metrics: a row of {} values, expected {}", row.size(), columns));
    for (size_t i = 0; i < columns; ++i)
      if (!std::isnan(row[i])) sums[i] += row[i], counts[i] += 1;
  }
  for (size_t i = 0; i < columns; ++i) sums[i] = counts[i] > 0 ? sums[i] / counts[i] : std::nan("");
  return sums;
}

VocoderMetrics vocoder_metrics(const at::Tensor& ref_in, const at::Tensor& out_in, const MelSpectrogram& mel) {
  const int64_t n = std::min(ref_in.size(0), out_in.size(0));
  const auto ref = ref_in.slice(0, 0, n).to(at::kFloat).contiguous(), out = out_in.slice(0, 0, n).to(at::kFloat).contiguous();
  VocoderMetrics m;
  // The mel is mapped to [0, 1] from [-100, 0] dB, so 100 x its L1 distance is in dB.
  m.log_mel_l1_db = 100.0 * (mel(ref) - mel(out)).abs().mean().item<double>();
  m.mr_stft = multi_resolution_stft(
      ref, out, std::vector<StftResolution>(std::begin(kPaperStftResolutions), std::end(kPaperStftResolutions)));
  m.envelope_correlation = envelope_correlation(ref, out);
  m.mr_stft_quarter_hop = multi_resolution_stft(ref, out, {{512, 128, 512}, {1024, 256, 1024}, {2048, 512, 2048}},
                                                /*eps=*/1e-14)
                              .total();
  const auto cepstrum = mel_cepstrum_options(mel.sample_rate(), mel.n_fft(), mel.hop());
  m.mcd_db = mel_cepstral_distortion(ref.data_ptr<float>(), out.data_ptr<float>(), n, cepstrum);
  PitchOptions pitch;
  pitch.sample_rate = mel.sample_rate();
  pitch.hop = mel.hop();
  const auto f0 = f0_errors(track_f0(ref.data_ptr<float>(), n, pitch), track_f0(out.data_ptr<float>(), n, pitch));
  m.log_f0_rmse_cents = f0.log_f0_rmse_cents;
  m.vuv_error = f0.vuv_error;
  return m;
}

}  // namespace diffwave
