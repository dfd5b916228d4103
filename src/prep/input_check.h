// Decodes one input and decides whether it may enter a shard. Every problem becomes a reason,
// never an exception: unreadable, empty, not audio, unsupported header, truncated, non-finite
// samples, too short, silent. Duplicates are decided later, across ranks, from the content hash computed here.
#pragma once
#include <string>
#include <vector>

#include "common/config.h"

namespace diffwave::prep {

enum class Status { ok, warning, rejected };
const char* status_name(Status s);

struct CheckRules {
  int sample_rate = 22050;
  int hop_samples = 256;
  int n_fft = 1024;
  int min_frames = 62;
  bool int16 = true;  // the shard stores int16: samples are rounded to that grid here
  // Silent: RMS of the stored audio below this (-80 dBFS; 1 LSB of int16 is 3e-5).
  double silence_rms = 1e-4;

  static CheckRules from(const Config& config);
};

struct CheckedInput {
  Status status = Status::rejected;
  std::string reason;          // "code: detail" ("" when ok); the code groups the summary
  std::vector<float> samples;  // as the shard stores them (empty when rejected)
  std::string content_hash;    // sha256 of the stored samples' bytes (empty when rejected)
};

CheckedInput check_input(const std::string& path, const CheckRules& rules);

// The part of a reason before the first ':' ("silent: ..." -> "silent").
std::string reason_code(const std::string& reason);

}  // namespace diffwave::prep
