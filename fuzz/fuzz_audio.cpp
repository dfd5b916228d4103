// Audio decode + diffwave-prep's input checks: the bytes are an audio file of any format
// libsndfile reads. check_input promises a reason for every problem, never an exception, so
// anything escaping it is a finding; probe_audio may throw diffwave::Error only.
#include <cmath>

#include "audio/audio_io.h"
#include "common/error.h"
#include "fuzz_util.h"
#include "prep/input_check.h"

using namespace diffwave;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // No extension: libsndfile decides by content, as it does for a corpus's files.
  const std::string file = fuzz::write_file("input", data, size);
  try {
    const AudioInfo info = probe_audio(file);
    if (info.channels <= 0 || info.sample_rate <= 0) fuzz::fail("probe_audio accepted a header without channels or rate");
  } catch (const Error&) {
  }
  prep::CheckRules rules;  // the defaults diffwave-prep uses (22050 Hz, int16 storage)...
  rules.min_frames = 2;    // ...but short inputs reach the later checks too
  for (const bool int16 : {true, false}) {
    rules.int16 = int16;
    const auto r = prep::check_input(file, rules);
    if (r.status == prep::Status::rejected) {
      if (r.reason.empty() || !r.samples.empty() || !r.content_hash.empty()) fuzz::fail("a rejection without a reason, or with samples");
      continue;
    }
    if (r.samples.empty() || r.content_hash.size() != 64) fuzz::fail("an accepted input without samples or hash");
    for (float x : r.samples)
      if (!std::isfinite(x) || x < -1.0f || x > 1.0f) fuzz::fail("an accepted sample outside [-1, 1]");
  }
  return 0;
}
