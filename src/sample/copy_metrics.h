// How far a copy synthesis (audio -> mel -> vocoder -> audio) lands from the original: a log-mel
// L1 distance and a multi-resolution STFT distance, the usual vocoder objective measures.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

namespace diffwave {

class MelSpectrogram;

struct CopyMetrics {
  double log_mel_l1_db = 0;     // mean |log-mel(ref) - log-mel(out)|, in dB
  double spectral_convergence = 0;  // ||S_ref - S_out||_F / ||S_ref||_F, averaged over resolutions
  double log_magnitude_l1 = 0;      // mean |ln S_ref - ln S_out|, averaged over resolutions
  double mr_stft() const { return spectral_convergence + log_magnitude_l1; }
};

// ref, out: [T] float CPU audio at the config's rate; compared over the shorter of the two.
// STFT resolutions: FFT sizes 512, 1024, 2048 with hops of a quarter and Hann windows.
CopyMetrics copy_metrics(const at::Tensor& ref, const at::Tensor& out, const MelSpectrogram& mel);

inline constexpr const char* kMetricsHeader = "id\tlog_mel_l1_db\tspectral_convergence\tlog_magnitude_l1\tmr_stft";

}  // namespace diffwave
