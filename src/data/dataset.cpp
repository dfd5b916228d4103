#include "data/dataset.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"
#include "data/manifest.h"

namespace diffwave {

Dataset::Dataset(const std::string& prep_dir, const Config& config, bool validation)
    : hop_(config.audio.hop_samples), n_mels_(config.audio.n_mels) {
  const auto manifest = Manifest::load(prep_dir + "/manifest.json");
  const std::string config_name = config.origin_of("audio.sample_rate");
  for (const auto& s : manifest.shards) {
    shards_.push_back(std::make_unique<ShardReader>(prep_dir + "/" + s.path, config.audio, config_name));
    const auto& shard = *shards_.back();
    for (size_t i = 0; i < shard.size(); ++i)
      if (shard.is_validation(i) == validation) items_.push_back({shards_.size() - 1, i});
  }
  // A fixed order, independent of how many ranks wrote the shards: sorted by utterance id.
  std::sort(items_.begin(), items_.end(), [this](const Item& a, const Item& b) {
    return shards_[a.shard]->ids()[a.index] < shards_[b.shard]->ids()[b.index];
  });
}

const std::string& Dataset::id(size_t i) const { return shards_[items_.at(i).shard]->ids()[items_[i].index]; }
int64_t Dataset::frames(size_t i) const { return shards_[items_.at(i).shard]->mel_frames(items_[i].index); }
int64_t Dataset::samples(size_t i) const { return shards_[items_.at(i).shard]->audio_length(items_[i].index); }

std::vector<float> Dataset::audio(size_t i) const { return shards_[items_.at(i).shard]->audio(items_[i].index); }

void Dataset::read_crop(size_t i, int64_t offset, int64_t frames, float* audio_out, float* mel_out) const {
  const auto& item = items_.at(i);
  const auto& shard = *shards_[item.shard];
  if (offset < 0 || offset + frames > shard.mel_frames(item.index))
    throw DataError(fmt::format("{}: crop of {} frames at {} exceeds utterance '{}' ({} frames)", shard.path(), frames,
                                offset, id(i), shard.mel_frames(item.index)));
  // Only the crop is read. Audio beyond the utterance's end is zero: its last mel frame covers a
  // partial hop (lmnt pads the same way).
  const int64_t first = offset * hop_, count = frames * hop_;
  const int64_t available = std::max<int64_t>(0, std::min(count, shard.audio_length(item.index) - first));
  const auto samples = shard.audio(item.index, first, available);
  std::copy(samples.begin(), samples.end(), audio_out);
  std::fill(audio_out + available, audio_out + count, 0.0f);
  if (!mel_out) return;
  const auto mel = shard.mel(item.index, offset, frames);  // [frames, n_mels]
  for (int64_t f = 0; f < frames; ++f)
    for (int m = 0; m < n_mels_; ++m) mel_out[m * frames + f] = mel[static_cast<size_t>(f * n_mels_ + m)];
}

void Dataset::read_samples(size_t i, int64_t offset, int64_t count, float* audio_out) const {
  const auto& item = items_.at(i);
  const auto& shard = *shards_[item.shard];
  if (offset < 0 || offset + count > shard.audio_length(item.index))
    throw DataError(fmt::format("{}: crop of {} samples at {} exceeds utterance '{}' ({} samples)", shard.path(), count,
                                offset, id(i), shard.audio_length(item.index)));
  const auto samples = shard.audio(item.index, offset, count);
  std::copy(samples.begin(), samples.end(), audio_out);
}

}  // namespace diffwave
