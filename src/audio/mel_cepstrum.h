// Mel-cepstral distortion between a vocoder's output and the recording it reproduces, with SPTK's
// mel-cepstral analysis (libSPTK's mcep, the analysis behind SPTK's `mcep` program).
#pragma once
#include <cstdint>
#include <vector>

namespace diffwave {

// The all-pass constant that makes the mel-cepstrum's warped frequency axis approximate the mel
// scale at this rate (16 kHz 0.42, 22.05 kHz 0.45, 24 kHz 0.46, 44.1 kHz 0.53, 48 kHz 0.55;
// other rates take the nearest listed rate's).
double mel_cepstrum_alpha(int sample_rate);

struct MelCepstrumOptions {
  int order = 34;
  double alpha = 0.45;
  int frame_length = 1024;  // a power of two (mcep's FFT length)
  int hop = 256;
  // Added to every periodogram bin (mcep's etype 1, SPTK `mcep -e`): a silent frame has a zero
  // periodogram, on which mcep stops the process. 1e-8 is -80 dB below a full-scale frame's power.
  double floor = 1e-8;
};

// Options for audio at this rate framed as the model's mel: n_fft (rounded up to a power of two)
// and hop_samples.
MelCepstrumOptions mel_cepstrum_options(int sample_rate, int n_fft, int hop);

// Mel-cepstra [frames][order + 1] framed as SPTK's `frame -l L -p P | window -l L` (frame t is
// centred on sample t * hop, zero outside the signal, ceil(n / hop) frames; Blackman window
// normalised to unit power).
std::vector<std::vector<double>> mel_cepstra(const float* x, int64_t n, const MelCepstrumOptions& o);

// Mean over frames of (10 / ln 10) * sqrt(2 * sum_{d=1..order} (c_d - c'_d)^2) in dB: c_0 (the
// frame's gain) excluded, as MCD is usually defined. ref and out: n samples each. NaN without frames.
double mel_cepstral_distortion(const float* ref, const float* out, int64_t n, const MelCepstrumOptions& o);
double mel_cepstral_distortion(const std::vector<std::vector<double>>& ref,
                               const std::vector<std::vector<double>>& out);

}  // namespace diffwave
