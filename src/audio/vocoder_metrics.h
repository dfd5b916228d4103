// How far a vocoder's output lands from the ground truth it should reproduce (copy synthesis,
// validation synthesis during training): the objective measures vocoder papers report, in one
// place for the sampler and the trainer.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace diffwave {

class MelSpectrogram;

struct StftResolution {
  int fft, hop, window;
};
// The resolutions of the multi-resolution STFT distance as vocoder papers define it (Parallel
// WaveGAN; PriorGrad reports 1.092 for DiffWave BASE on LJSpeech), Hann windows.
inline constexpr StftResolution kPaperStftResolutions[] = {{512, 50, 240}, {1024, 120, 600}, {2048, 240, 1200}};

struct StftDistance {
  double spectral_convergence = 0;  // ||S_ref - S_out||_F / ||S_ref||_F, averaged over resolutions
  double log_magnitude_l1 = 0;      // mean |ln S_ref - ln S_out|, averaged over resolutions
  double total() const { return spectral_convergence + log_magnitude_l1; }
};

// Magnitudes of centred, reflect-padded STFTs, sqrt(max(|X|^2, eps)): auraloss's
// MultiResolutionSTFTLoss arithmetic. ref, out: [T] float audio of equal length.
StftDistance multi_resolution_stft(const at::Tensor& ref, const at::Tensor& out,
                                   const std::vector<StftResolution>& resolutions, double eps = 1e-8);

// Pearson correlation of frame log-energies (1024-sample frames, hop 256, ln(sum x^2 + 1e-10)):
// crude, but it separates static (near 0) from audio that follows the speech's envelope.
double envelope_correlation(const at::Tensor& ref, const at::Tensor& out);

struct VocoderMetrics {
  double log_mel_l1_db = 0;  // mean |log-mel(ref) - log-mel(out)| in dB, the model's own mel recipe
  StftDistance mr_stft;      // kPaperStftResolutions
  double envelope_correlation = 0;
  // The multi-resolution STFT distance this tool reported before the paper's definition: FFT
  // 512/1024/2048, window = FFT size, hop a quarter, magnitudes clamped at 1e-7.
  double mr_stft_quarter_hop = 0;
  // Mel-cepstral distortion in dB (mel_cepstrum.h: order 34, SPTK's mcep, the mel's frames).
  double mcd_db = 0;
  // F0 errors (pitch.h, 60-400 Hz, the mel's hop): RMSE of 1200 log2(F0_out / F0_ref) over frames
  // voiced in both (NaN when none is), and the fraction of frames whose voicing differs.
  double log_f0_rmse_cents = 0;
  double vuv_error = 0;

  // Column names and values, in metrics.tsv's order.
  static std::vector<std::string> names();
  std::vector<double> values() const;
  static VocoderMetrics from_values(const std::vector<double>& values);
};

// The mean of each column over the rows where it is a number: a file without voiced frames has
// no F0 error and must not make the mean NaN.
std::vector<double> mean_over_files(const std::vector<std::vector<double>>& rows);

// ref, out: [T] float CPU audio at the config's rate; compared over the shorter of the two.
VocoderMetrics vocoder_metrics(const at::Tensor& ref, const at::Tensor& out, const MelSpectrogram& mel);

}  // namespace diffwave
