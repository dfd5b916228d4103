#include "audio/mel.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/config.h"

namespace diffwave {

namespace {
double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
}  // namespace

at::Tensor mel_filterbank(int n_freqs, double f_min, double f_max, int n_mels, int sample_rate) {
  // torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk"), in its float32 op order.
  auto opts = at::TensorOptions().dtype(at::kFloat);
  auto all_freqs = at::linspace(0, sample_rate / 2, n_freqs, opts);  // integer Nyquist, as torchaudio
  auto m_pts = at::linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2, opts);
  auto f_pts = 700.0 * (at::pow(10.0, m_pts / 2595.0) - 1.0);
  auto f_diff = f_pts.slice(0, 1) - f_pts.slice(0, 0, -1);
  auto slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1);
  auto down = (-1.0 * slopes.slice(1, 0, -2)) / f_diff.slice(0, 0, -1);
  auto up = slopes.slice(1, 2) / f_diff.slice(0, 1);
  return at::clamp_min(at::minimum(down, up), 0.0);
}

MelSpectrogram::MelSpectrogram(const AudioConfig& a, c10::Device device)
    : sample_rate_(a.sample_rate), n_fft_(a.n_fft), hop_(a.hop_samples), win_length_(a.resolved_win_length()) {
  window_ = at::hann_window(win_length_, /*periodic=*/true, at::TensorOptions().dtype(at::kFloat)).to(device);
  window_norm_ = window_.pow(2.0).sum().sqrt();  // a float32 tensor, as torchaudio divides by
  filterbank_ = mel_filterbank(n_fft_ / 2 + 1, a.f_min, a.resolved_f_max(), a.n_mels, a.sample_rate).to(device);
}

at::Tensor MelSpectrogram::linear(const at::Tensor& audio) const {
  // .to() returns the tensor itself when it is already on that device.
  auto window = window_.to(audio.device());
  auto spec = at::stft(audio, n_fft_, hop_, win_length_, window, /*center=*/true, "reflect",
                       /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
  spec = spec / window_norm_.to(audio.device());  // torchaudio's normalized=True ("window")
  auto mag = spec.abs();       // power 1
  return at::matmul(mag.transpose(-1, -2), filterbank_.to(audio.device())).transpose(-1, -2);
}

at::Tensor MelSpectrogram::operator()(const at::Tensor& audio) const {
  auto x = 20.0 * at::log10(at::clamp_min(linear(audio), 1e-5)) - 20.0;
  return at::clamp((x + 100.0) / 100.0, 0.0, 1.0);
}

}  // namespace diffwave
