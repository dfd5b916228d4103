// Shard format v1, shared by the writer, the reader and diffwave-prep (described for users in
// src/prep/README.md). A shard is one HDF5 file:
//   /audio                 1-D, every utterance's samples concatenated: int16 PCM or float32
//   /mel                   float32 [total_frames, n_mels], lmnt-normalised log-mel in [0, 1]
//   /index/id              UTF-8 variable-length strings, one per utterance
//   /index/audio_offset, /index/audio_length, /index/mel_offset, /index/mel_frames   int64
//   /index/validation      int8, 1 where the utterance belongs to the validation split
// Root attributes: format_version, audio_dtype, mel_normalisation and every audio/mel parameter.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace diffwave {

inline constexpr int64_t kShardFormatVersion = 1;
inline constexpr const char* kMelNormalisation = "lmnt-log10-minus20-plus100-over100";

// One audio/mel parameter as a shard records it: integers as int64 attributes, the rest double.
struct ShardParameter {
  const char* name;
  double value;
  bool integer;
};

// The parameters a shard's content depends on, resolved (no "unset" values).
inline std::vector<ShardParameter> shard_parameters(const AudioConfig& a) {
  return {{"sample_rate", double(a.sample_rate), true},       {"n_fft", double(a.n_fft), true},
          {"win_length", double(a.resolved_win_length()), true}, {"hop_samples", double(a.hop_samples), true},
          {"n_mels", double(a.n_mels), true},                   {"f_min", a.f_min, false},
          {"f_max", a.resolved_f_max(), false}};
}

// Mel frames for `samples` samples: centred STFT, as lmnt.
inline int64_t mel_frames_for(int64_t samples, int hop) { return samples / hop + 1; }

// int16 storage: x in [-1, 1] -> round(x * 32768) limited to the int16 range; read back as q / 32768.
inline int16_t to_pcm16(float x) {
  return static_cast<int16_t>(std::clamp(std::lrint(double(x) * 32768.0), -32768L, 32767L));
}
inline float from_pcm16(int16_t q) { return float(q) / 32768.0f; }

}  // namespace diffwave
