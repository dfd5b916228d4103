// Log-mel spectrogram exactly as lmnt-com/diffwave computes it: torchaudio MelSpectrogram with
// power 1, window-normalised STFT, periodic Hann, centred reflect padding, HTK mel scale and no
// filterbank norm; then 20*log10(max(mel, 1e-5)) - 20, mapped to [0, 1] by (x + 100) / 100.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace diffwave {

struct AudioConfig;

// The mel filterbank [n_fft / 2 + 1, n_mels] in torchaudio's HTK, norm=None form (float32).
at::Tensor mel_filterbank(int n_freqs, double f_min, double f_max, int n_mels, int sample_rate);

class MelSpectrogram {
 public:
  MelSpectrogram(const AudioConfig& audio, c10::Device device = c10::kCPU);
  // audio: [T] or [B, T] float in [-1, 1] -> [n_mels, frames] or [B, n_mels, frames] in [0, 1],
  // frames = floor(T / hop) + 1. Runs on the audio's device.
  at::Tensor operator()(const at::Tensor& audio) const;
  // The magnitude mel before log compression (for tests and diagnostics).
  at::Tensor linear(const at::Tensor& audio) const;
  // The framing, for metrics that must frame audio the same way (src/audio).
  int sample_rate() const { return sample_rate_; }
  int n_fft() const { return n_fft_; }
  int hop() const { return hop_; }

 private:
  int sample_rate_, n_fft_, hop_, win_length_;
  at::Tensor window_, filterbank_, window_norm_;
};

}  // namespace diffwave
