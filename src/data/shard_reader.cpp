#include "data/shard_reader.h"

#include <fmt/format.h>

#include <set>

#include "common/error.h"
#include "data/shard_format.h"

namespace diffwave {

ShardReader::ShardReader(const std::string& path, const AudioConfig& audio, const std::string& config_name)
    : file_(H5File::open(path)), n_mels_(audio.n_mels), hop_(audio.hop_samples) {
  if (!file_.has_attribute("/", "format_version"))
    throw DataError(fmt::format("{}: not a diffwave shard (no format_version attribute)", path));
  const auto version = file_.attribute_int("/", "format_version");
  if (version != kShardFormatVersion)
    throw DataError(fmt::format("{}: shard format version {}, this build reads version {}", path, version,
                                kShardFormatVersion));
  check_parameters(audio, config_name);
  audio_dtype_ = file_.attribute_string("/", "audio_dtype");
  if (audio_dtype_ != "int16" && audio_dtype_ != "float32")
    throw DataError(fmt::format("{}: audio_dtype '{}' is neither int16 nor float32", path, audio_dtype_));
  ids_ = file_.read_strings("/index/id");
  audio_offset_ = file_.read_int64("/index/audio_offset");
  audio_length_ = file_.read_int64("/index/audio_length");
  mel_offset_ = file_.read_int64("/index/mel_offset");
  mel_frames_ = file_.read_int64("/index/mel_frames");
  validation_ = file_.read_int64("/index/validation");
  const auto audio_shape = file_.shape("/audio");
  const auto mel_shape = file_.shape("/mel");
  if (audio_shape.size() != 1) throw DataError(fmt::format("{}: /audio is not 1-D", path));
  if (mel_shape.size() != 2 || mel_shape[1] != n_mels_)
    throw DataError(fmt::format("{}: /mel is not [frames, {}]", path, n_mels_));
  total_samples_ = audio_shape[0];
  total_frames_ = mel_shape[0];
  check_index();
}

void ShardReader::check_parameters(const AudioConfig& audio, const std::string& config_name) const {
  for (const auto& p : shard_parameters(audio)) {
    if (!file_.has_attribute("/", p.name))
      throw DataError(fmt::format("{}: shard lacks the '{}' attribute", path(), p.name));
    const auto stored = file_.attribute_doubles("/", p.name);
    if (stored.size() != 1 || stored[0] != p.value)
      throw DataError(fmt::format("{}: shard was made with {} = {}, but {} has audio.{} = {}; rerun diffwave-prep "
                                  "with this config or train with the shard's",
                                  path(), p.name, stored.empty() ? 0.0 : stored[0], config_name, p.name, p.value));
  }
  const auto norm = file_.attribute_string("/", "mel_normalisation");
  if (norm != kMelNormalisation)
    throw DataError(fmt::format("{}: shard mel normalisation is '{}', this build uses '{}'", path(), norm,
                                kMelNormalisation));
}

void ShardReader::check_index() const {
  const size_t n = ids_.size();
  for (const auto* column : {&audio_offset_, &audio_length_, &mel_offset_, &mel_frames_, &validation_})
    if (column->size() != n)
      throw DataError(fmt::format("{}: index columns differ in length ({} ids, {} entries)", path(), n, column->size()));
  std::set<std::string> seen;
  int64_t audio_end = 0, mel_end = 0;
  for (size_t i = 0; i < n; ++i) {
    auto bad = [&](const std::string& what) {
      return DataError(fmt::format("{}: index entry {} ('{}'): {}", path(), i, ids_[i], what));
    };
    if (!seen.insert(ids_[i]).second) throw bad("id appears twice");
    if (audio_offset_[i] != audio_end) throw bad(fmt::format("audio_offset {} != expected {}", audio_offset_[i], audio_end));
    if (mel_offset_[i] != mel_end) throw bad(fmt::format("mel_offset {} != expected {}", mel_offset_[i], mel_end));
    if (audio_length_[i] <= 0) throw bad("audio_length is not positive");
    if (mel_frames_[i] != mel_frames_for(audio_length_[i], hop_))
      throw bad(fmt::format("mel_frames {} != floor({} / {}) + 1", mel_frames_[i], audio_length_[i], hop_));
    // Each entry must end within the data, which also keeps the running sums from overflowing.
    if (audio_length_[i] > total_samples_ - audio_end)
      throw bad(fmt::format("audio_length {} runs past the end of /audio ({} samples)", audio_length_[i], total_samples_));
    if (mel_frames_[i] > total_frames_ - mel_end)
      throw bad(fmt::format("mel_frames {} runs past the end of /mel ({} frames)", mel_frames_[i], total_frames_));
    audio_end += audio_length_[i];
    mel_end += mel_frames_[i];
  }
  if (audio_end != total_samples_)
    throw DataError(fmt::format("{}: index covers {} samples, /audio holds {}", path(), audio_end, total_samples_));
  if (mel_end != total_frames_)
    throw DataError(fmt::format("{}: index covers {} mel frames, /mel holds {}", path(), mel_end, total_frames_));
}

std::vector<float> ShardReader::audio(size_t i) const { return audio(i, 0, audio_length_.at(i)); }

std::vector<float> ShardReader::mel(size_t i) const { return mel(i, 0, mel_frames_.at(i)); }

std::vector<float> ShardReader::audio(size_t i, int64_t first, int64_t count) const {
  if (first < 0 || count < 0 || first > audio_length_.at(i) || count > audio_length_[i] - first)
    throw DataError(fmt::format("{}: samples [{}, {}) are outside utterance '{}' ({} samples)", path(), first,
                                first + count, ids_[i], audio_length_[i]));
  auto samples = file_.read_float_rows("/audio", audio_offset_[i] + first, count);
  if (audio_dtype_ == "int16")
    for (auto& x : samples) x /= 32768.0f;  // exact: the same q / 32768 as from_pcm16
  return samples;
}

std::vector<float> ShardReader::mel(size_t i, int64_t first_frame, int64_t frames) const {
  if (first_frame < 0 || frames < 0 || first_frame > mel_frames_.at(i) || frames > mel_frames_[i] - first_frame)
    throw DataError(fmt::format("{}: mel frames [{}, {}) are outside utterance '{}' ({} frames)", path(), first_frame,
                                first_frame + frames, ids_[i], mel_frames_[i]));
  return file_.read_float_rows("/mel", mel_offset_[i] + first_frame, frames);
}

}  // namespace diffwave
