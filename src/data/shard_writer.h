// Writes one shard (format v1, data/shard_format.h), appending utterances as they come so a
// shard never has to fit in memory. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/h5_file.h"

namespace diffwave {

class ShardWriter {
 public:
  // Creates `path` (replacing it). prep.audio_dtype and prep.compression choose the storage.
  ShardWriter(const std::string& path, const AudioConfig& audio, const PrepConfig& prep);

  // samples: the utterance as stored (for int16 shards already on the q / 32768 grid, so the
  // stored values equal them exactly). mel: [frames, n_mels] row-major, computed from `samples`.
  void add(const std::string& id, const std::vector<float>& samples, const float* mel, int64_t frames,
           bool validation);

  // Writes the index and closes the file; throws DataError when the disk refuses the data.
  void finish();

  size_t utterances() const { return ids_.size(); }
  int64_t samples() const { return audio_total_; }
  double hours() const { return double(audio_total_) / sample_rate_ / 3600.0; }

 private:
  H5File file_;
  int sample_rate_, n_mels_;
  bool int16_;
  int64_t audio_total_ = 0, mel_total_ = 0;
  std::vector<std::string> ids_;
  std::vector<int64_t> audio_offset_, audio_length_, mel_offset_, mel_frames_;
  std::vector<int8_t> validation_;
  std::vector<int16_t> pcm_;  // reused conversion buffer
};

}  // namespace diffwave
