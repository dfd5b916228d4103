#include "audio/mel_cepstrum.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "common/error.h"
#include "audio/sptk.h"

namespace diffwave {

double mel_cepstrum_alpha(int sample_rate) {
  static constexpr struct { double rate, alpha; } kTable[] = {
      {16000, 0.42}, {22050, 0.45}, {24000, 0.46}, {44100, 0.53}, {48000, 0.55}};
  const auto nearest = std::min_element(std::begin(kTable), std::end(kTable), [&](const auto& a, const auto& b) {
    return std::abs(a.rate - sample_rate) < std::abs(b.rate - sample_rate);
  });
  return nearest->alpha;
}

MelCepstrumOptions mel_cepstrum_options(int sample_rate, int n_fft, int hop) {
  MelCepstrumOptions o;
  o.alpha = mel_cepstrum_alpha(sample_rate);
  o.frame_length = 1;
  while (o.frame_length < n_fft) o.frame_length *= 2;
  o.hop = hop;
  return o;
}

std::vector<std::vector<double>> mel_cepstra(const float* x, int64_t n, const MelCepstrumOptions& o) {
  const int length = o.frame_length;
  if (length < 2 || (length & (length - 1)) != 0 || o.hop < 1 || o.order < 1 || o.order >= length / 2)
    throw Error(fmt::format("mel-cepstrum: frame length {} (a power of two), hop {} and order {} do not fit",
                            length, o.hop, o.order));
  std::vector<std::vector<double>> out;
  std::vector<double> frame(static_cast<size_t>(length));
  for (int64_t centre = 0; centre < n; centre += o.hop) {
    for (int i = 0; i < length; ++i) {
      const int64_t t = centre - length / 2 + i;
      frame[static_cast<size_t>(i)] = t >= 0 && t < n ? x[t] : 0.0;
    }
    std::vector<double> c(static_cast<size_t>(o.order + 1));
    std::lock_guard<std::mutex> lock(sptk_mutex());
    window(BLACKMAN, frame.data(), length, /*nflg=power*/ 1);
    // SPTK mcep's own defaults: 2 to 30 iterations, end condition 0.001, minimum determinant 1e-6;
    // input type 0 (windowed samples). A -1 (no convergence in 30 iterations) still leaves the
    // last iterate, which `mcep` prints too.
    mcep(frame.data(), length, c.data(), o.order, o.alpha, 2, 30, 0.001, /*etype=*/1, o.floor, 1e-6, 0);
    out.push_back(std::move(c));
  }
  return out;
}

double mel_cepstral_distortion(const std::vector<std::vector<double>>& ref,
                               const std::vector<std::vector<double>>& out) {
  const size_t frames = std::min(ref.size(), out.size());
  if (frames == 0) return std::numeric_limits<double>::quiet_NaN();
  const double scale = 10.0 / std::log(10.0);
  double sum = 0;
  for (size_t t = 0; t < frames; ++t) {
    double d2 = 0;
    for (size_t d = 1; d < std::min(ref[t].size(), out[t].size()); ++d) d2 += std::pow(ref[t][d] - out[t][d], 2);
    sum += scale * std::sqrt(2.0 * d2);
  }
  return sum / double(frames);
}

double mel_cepstral_distortion(const float* ref, const float* out, int64_t n, const MelCepstrumOptions& o) {
  return mel_cepstral_distortion(mel_cepstra(ref, n, o), mel_cepstra(out, n, o));
}

}  // namespace diffwave
