// Reads a shard (format v1, data/shard_format.h). Opening checks the format version, that every
// audio/mel parameter equals the config in use (an error names both values), and that the index
// is consistent with the data. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/h5_file.h"

namespace diffwave {

class ShardReader {
 public:
  // `config_name` says where `audio` came from, for the error message (e.g. "configs/base.yaml").
  ShardReader(const std::string& path, const AudioConfig& audio, const std::string& config_name = "the config");

  const std::string& path() const { return file_.path(); }
  const std::string& audio_dtype() const { return audio_dtype_; }
  size_t size() const { return ids_.size(); }
  const std::vector<std::string>& ids() const { return ids_; }
  int64_t audio_length(size_t i) const { return audio_length_.at(i); }
  int64_t mel_frames(size_t i) const { return mel_frames_.at(i); }
  bool is_validation(size_t i) const { return validation_.at(i) != 0; }
  int64_t total_samples() const { return total_samples_; }

  // Utterance i's samples in [-1, 1] (int16 PCM divided by 32768).
  std::vector<float> audio(size_t i) const;
  // Utterance i's mel, [mel_frames(i), n_mels] row-major.
  std::vector<float> mel(size_t i) const;
  // Parts of utterance i, for training crops: `count` samples from sample `first`, and `frames`
  // mel frames from frame `first_frame`. Throw DataError when the range leaves the utterance.
  std::vector<float> audio(size_t i, int64_t first, int64_t count) const;
  std::vector<float> mel(size_t i, int64_t first_frame, int64_t frames) const;

 private:
  void check_parameters(const AudioConfig& audio, const std::string& config_name) const;
  void check_index() const;
  H5File file_;
  int n_mels_ = 0, hop_ = 0;
  std::string audio_dtype_;
  int64_t total_samples_ = 0, total_frames_ = 0;
  std::vector<std::string> ids_;
  std::vector<int64_t> audio_offset_, audio_length_, mel_offset_, mel_frames_;
  std::vector<int64_t> validation_;
};

}  // namespace diffwave
