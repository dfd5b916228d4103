// Audio file input and output on libsndfile, resampling on libsoxr. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffwave {

// What a file's header says, before any sample is decoded.
struct AudioInfo {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;   // as the header states it
  std::string format;   // e.g. "WAV (Microsoft) / Signed 16 bit PCM"
};

// Mono audio as float samples, nominally in [-1, 1].
struct Audio {
  std::vector<float> samples;
  int sample_rate = 0;
};

// Reads the header only. Throws AudioError naming the path and libsndfile's reason, or, after
// "unsupported: ", the claim beyond what is read: more than 64 channels, a rate outside
// 1,000..768,000 Hz (read_audio too).
AudioInfo probe_audio(const std::string& path);

// Decodes any format libsndfile reads (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...), any sample
// type, and downmixes to mono by averaging channels. Integer PCM maps to float by dividing by
// 2^(bits-1) (as torchaudio does). Throws AudioError naming the path when the file is unreadable,
// empty, or shorter than its header claims (truncated).
Audio read_audio(const std::string& path);

// High-quality resampling (soxr HQ). Returns the input unchanged when the rates are equal.
std::vector<float> resample(const std::vector<float>& in, int from_rate, int to_rate);

// read_audio, then resample to `sample_rate`.
Audio load_audio(const std::string& path, int sample_rate);

enum class WavFormat { pcm16, float32 };

// Writes mono WAV. pcm16 clamps to [-1, 1] and stores round(x * 32768) limited to the int16
// range, so that read_audio returns exactly the stored grid values. Throws AudioError.
void write_wav(const std::string& path, const float* samples, size_t count, int sample_rate,
               WavFormat format = WavFormat::pcm16);
inline void write_wav(const std::string& path, const Audio& a, WavFormat format = WavFormat::pcm16) {
  write_wav(path, a.samples.data(), a.samples.size(), a.sample_rate, format);
}

}  // namespace diffwave
