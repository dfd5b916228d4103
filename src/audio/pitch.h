// A compact F0 tracker (normalised cross-correlation per frame, a voicing threshold, and a
// continuity pass against octave errors) and the F0 errors vocoder papers report between a
// vocoder's output and the recording: log-F0 RMSE in cents and the voiced/unvoiced error rate.
#pragma once
#include <cstdint>
#include <vector>

namespace diffwave {

struct PitchOptions {
  int sample_rate = 22050;
  int hop = 256;  // frame t is centred on sample t * hop, ceil(n / hop) frames (as the mel-cepstra)
  double f0_min = 60, f0_max = 400;
  // A frame is voiced when its correlation peak reaches this and its energy is within
  // silence_db of the utterance's loudest frame.
  double voicing_threshold = 0.6;
  double silence_db = 40;
};

// F0 in Hz per frame, 0 where unvoiced.
std::vector<double> track_f0(const float* x, int64_t n, const PitchOptions& o);

struct F0Errors {
  double log_f0_rmse_cents;  // over frames voiced in both; NaN when there is none
  double vuv_error;          // fraction of frames whose voicing differs; NaN without frames
};
F0Errors f0_errors(const std::vector<double>& ref_f0, const std::vector<double>& out_f0);

}  // namespace diffwave
