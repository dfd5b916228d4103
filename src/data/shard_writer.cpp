#include "data/shard_writer.h"

#include <fmt/format.h>

#include "common/error.h"
#include "data/shard_format.h"

namespace diffwave {

namespace {
// Chunks along time. Training reads random crops of ~16k samples / 62 frames, so chunks of a few
// crops keep read amplification low while keeping the chunk index small.
constexpr int64_t kAudioChunk = 1 << 16;  // samples
constexpr int64_t kMelChunk = 256;        // frames
}  // namespace

ShardWriter::ShardWriter(const std::string& path, const AudioConfig& audio, const PrepConfig& prep)
    : file_(H5File::create(path)),
      sample_rate_(audio.sample_rate),
      n_mels_(audio.n_mels),
      int16_(prep.audio_dtype == "int16") {
  const bool gzip = prep.compression == "gzip";
  file_.create_growing("/audio", int16_ ? H5File::Type::int16 : H5File::Type::float32, {}, kAudioChunk, gzip);
  file_.create_growing("/mel", H5File::Type::float32, {n_mels_}, kMelChunk, gzip);
  file_.set_attribute("/", "format_version", kShardFormatVersion);
  file_.set_attribute("/", "audio_dtype", std::string(int16_ ? "int16" : "float32"));
  file_.set_attribute("/", "audio_scale", int16_ ? 1.0 / 32768.0 : 1.0);
  file_.set_attribute("/", "mel_normalisation", std::string(kMelNormalisation));
  file_.set_attribute("/", "compression", prep.compression);
  for (const auto& p : shard_parameters(audio)) {
    if (p.integer) file_.set_attribute("/", p.name, static_cast<int64_t>(p.value));
    else file_.set_attribute("/", p.name, p.value);
  }
}

void ShardWriter::add(const std::string& id, const std::vector<float>& samples, const float* mel, int64_t frames,
                      bool validation) {
  const auto n = static_cast<int64_t>(samples.size());
  if (int16_) {
    pcm_.resize(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) pcm_[i] = to_pcm16(samples[i]);
    file_.append("/audio", pcm_.data(), n);
  } else {
    file_.append("/audio", samples.data(), n);
  }
  file_.append("/mel", mel, frames);
  ids_.push_back(id);
  audio_offset_.push_back(audio_total_);
  audio_length_.push_back(n);
  mel_offset_.push_back(mel_total_);
  mel_frames_.push_back(frames);
  validation_.push_back(validation ? 1 : 0);
  audio_total_ += n;
  mel_total_ += frames;
}

void ShardWriter::finish() {
  file_.write_strings("/index/id", ids_);
  file_.write("/index/audio_offset", audio_offset_);
  file_.write("/index/audio_length", audio_length_);
  file_.write("/index/mel_offset", mel_offset_);
  file_.write("/index/mel_frames", mel_frames_);
  file_.write("/index/validation", validation_);
  file_.set_attribute("/", "utterances", static_cast<int64_t>(ids_.size()));
  file_.close();
}

}  // namespace diffwave
