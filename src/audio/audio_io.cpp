#include "audio/audio_io.h"

#include <fmt/format.h>
#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "common/error.h"

namespace diffwave {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

constexpr sf_count_t kChunkFrames = 1 << 16;
// Upper bound on the up-front reservation: a corrupt header must not trigger a huge allocation.
constexpr int64_t kMaxReserveFrames = int64_t{1} << 24;
// What a header may claim. More channels would make the read buffer huge (kChunkFrames frames of
// every channel), and a lower rate would make resampling multiply the length many times over.
constexpr int kMaxChannels = 64;
constexpr int kMinSampleRate = 1000, kMaxSampleRate = 768000;

SndfilePtr open_for_read(const std::string& path, SF_INFO& info) {
  info = SF_INFO{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) {
    // libsndfile calls a 0-byte file "Format not recognised", which sends users looking for codecs.
    std::error_code ec;
    const bool zero_bytes = std::filesystem::is_regular_file(path, ec) &&
                            std::filesystem::file_size(path, ec) == 0 && !ec;
    throw AudioError(fmt::format("cannot read audio file '{}': {}", path,
                                 zero_bytes ? "file is empty (0 bytes)" : sf_strerror(nullptr)));
  }
  if (info.channels <= 0 || info.samplerate <= 0) {
    throw AudioError(fmt::format("cannot read audio file '{}': header has {} channels at {} Hz",
                                 path, info.channels, info.samplerate));
  }
  if (info.channels > kMaxChannels)
    throw AudioError(fmt::format("cannot read audio file '{}': unsupported: the header claims {} channels, at most {} "
                                 "are read",
                                 path, info.channels, kMaxChannels));
  if (info.samplerate < kMinSampleRate || info.samplerate > kMaxSampleRate)
    throw AudioError(fmt::format("cannot read audio file '{}': unsupported: the header claims a sample rate of {} Hz, "
                                 "outside {}..{} Hz",
                                 path, info.samplerate, kMinSampleRate, kMaxSampleRate));
  return file;
}

std::string format_name(int format) {
  auto name = [](int code, int mask) -> std::string {
    SF_FORMAT_INFO fi{};
    fi.format = code & mask;
    if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof fi) != 0 || fi.name == nullptr) {
      return fmt::format("0x{:x}", code & mask);
    }
    return fi.name;
  };
  return name(format, SF_FORMAT_TYPEMASK) + " / " + name(format, SF_FORMAT_SUBMASK);
}

uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint32_t be32(const unsigned char* p) {
  return uint32_t(p[3]) | uint32_t(p[2]) << 8 | uint32_t(p[1]) << 16 | uint32_t(p[0]) << 24;
}

// libsndfile silently shrinks a WAV or AIFF frame count to what the file can hold, so a cut-off
// file looks valid. The header's own claim is recovered here for the uncompressed layouts where
// it maps directly to frames; nullopt means "no usable claim" and leaves libsndfile's count.
std::optional<int64_t> declared_frames(const std::string& path, int major) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[12];
  if (!in.read(reinterpret_cast<char*>(head), sizeof head)) return std::nullopt;

  if ((major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX) && std::memcmp(head, "RIFF", 4) == 0 &&
      std::memcmp(head + 8, "WAVE", 4) == 0) {
    unsigned tag = 0, block_align = 0;
    for (;;) {
      unsigned char ch[8];
      if (!in.read(reinterpret_cast<char*>(ch), sizeof ch)) return std::nullopt;
      const uint32_t size = le32(ch + 4);
      if (std::memcmp(ch, "data", 4) == 0) {
        // Compressed codecs have block_align != bytes per frame; streaming writers leave 0 or
        // a huge placeholder size that never gets patched.
        const bool frame_layout = tag == 1 || tag == 3 || tag == 6 || tag == 7 || tag == 0xFFFE;
        if (!frame_layout || block_align == 0 || size == 0 || size >= 0x7FFFF000u) {
          return std::nullopt;
        }
        return int64_t{size / block_align};
      }
      if (std::memcmp(ch, "fmt ", 4) == 0 && size >= 16) {
        unsigned char fmt_body[16];
        if (!in.read(reinterpret_cast<char*>(fmt_body), sizeof fmt_body)) return std::nullopt;
        tag = fmt_body[0] | fmt_body[1] << 8;
        block_align = fmt_body[12] | fmt_body[13] << 8;
        in.seekg(std::streamoff(size) - 16 + (size & 1), std::ios::cur);
      } else {
        in.seekg(std::streamoff(size) + (size & 1), std::ios::cur);
      }
    }
  }

  // Plain AIFF states the frame count in COMM; AIFF-C codecs may count packets instead.
  if (major == SF_FORMAT_AIFF && std::memcmp(head, "FORM", 4) == 0 &&
      std::memcmp(head + 8, "AIFF", 4) == 0) {
    for (;;) {
      unsigned char ch[8];
      if (!in.read(reinterpret_cast<char*>(ch), sizeof ch)) return std::nullopt;
      const uint32_t size = be32(ch + 4);
      if (std::memcmp(ch, "COMM", 4) == 0 && size >= 6) {
        unsigned char comm[6];
        if (!in.read(reinterpret_cast<char*>(comm), sizeof comm)) return std::nullopt;
        const uint32_t frames = be32(comm + 2);
        return frames == 0 ? std::nullopt : std::optional<int64_t>(frames);
      }
      in.seekg(std::streamoff(size) + (size & 1), std::ios::cur);
    }
  }
  return std::nullopt;
}

// Frame count as the header states it; -1 when the stream length is unknown.
int64_t header_frames(const std::string& path, const SF_INFO& info) {
  int64_t frames = (info.frames < 0 || info.frames == SF_COUNT_MAX) ? -1 : info.frames;
  if (auto claimed = declared_frames(path, info.format & SF_FORMAT_TYPEMASK)) {
    frames = std::max(frames, *claimed);
  }
  return frames;
}

}  // namespace

AudioInfo probe_audio(const std::string& path) {
  SF_INFO info;
  SndfilePtr file = open_for_read(path, info);
  AudioInfo out;
  out.sample_rate = info.samplerate;
  out.channels = info.channels;
  out.frames = header_frames(path, info);
  out.format = format_name(info.format);
  return out;
}

Audio read_audio(const std::string& path) {
  SF_INFO info;
  SndfilePtr file = open_for_read(path, info);
  const int subtype = info.format & SF_FORMAT_SUBMASK;
  if (subtype == SF_FORMAT_FLOAT || subtype == SF_FORMAT_DOUBLE) {
    // Float data is passed through untouched, out-of-range values and NaN/Inf included; a later
    // stage decides what to do with them.
    sf_command(file.get(), SFC_SET_CLIPPING, nullptr, SF_FALSE);
  }
  // Normalised float reads divide PCM by 2^(bits-1) (0x8000 for 16 bit), matching torchaudio.
  sf_command(file.get(), SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);

  const int64_t expected = header_frames(path, info);
  const int channels = info.channels;
  Audio audio;
  audio.sample_rate = info.samplerate;
  if (expected > 0) audio.samples.reserve(size_t(std::min(expected, kMaxReserveFrames)));

  std::vector<float> buf(size_t(kChunkFrames) * channels);
  for (;;) {
    const sf_count_t got = sf_readf_float(file.get(), buf.data(), kChunkFrames);
    if (got <= 0) break;
    if (channels == 1) {
      audio.samples.insert(audio.samples.end(), buf.begin(), buf.begin() + got);
      continue;
    }
    for (sf_count_t i = 0; i < got; ++i) {
      const float* frame = &buf[size_t(i) * channels];
      float sum = 0.0f;
      for (int c = 0; c < channels; ++c) sum += frame[c];
      audio.samples.push_back(sum / float(channels));
    }
  }

  const int64_t decoded = int64_t(audio.samples.size());
  const int err = sf_error(file.get());
  const std::string reason =
      err != SF_ERR_NO_ERROR ? fmt::format(" ({})", sf_strerror(file.get())) : "";
  if (expected > decoded) {
    throw AudioError(
        fmt::format("cannot read audio file '{}': truncated: header says {} frames, "
                    "decoded {}{}",
                    path, expected, decoded, reason));
  }
  if (err != SF_ERR_NO_ERROR) {
    throw AudioError(fmt::format("cannot read audio file '{}': decoding failed after {} frames{}",
                                 path, decoded, reason));
  }
  if (decoded == 0) {
    throw AudioError(fmt::format("cannot read audio file '{}': empty (no audio frames)", path));
  }
  return audio;
}

std::vector<float> resample(const std::vector<float>& in, int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0) {
    throw AudioError(fmt::format("resample: invalid sample rates {} -> {}", from_rate, to_rate));
  }
  if (from_rate == to_rate || in.empty()) return in;

  const double ratio = double(to_rate) / double(from_rate);
  // Headroom over the expected length; soxr itself stops at round(n * ratio) when flushing.
  std::vector<float> out(size_t(std::ceil(double(in.size()) * ratio)) + 16);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  // One thread: callers already parallelise across files.
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  size_t done = 0;
  const soxr_error_t err = soxr_oneshot(from_rate, to_rate, 1, in.data(), in.size(), nullptr,
                                        out.data(), out.size(), &done, &io, &quality, &runtime);
  if (err) {
    throw AudioError(fmt::format("resample {} -> {} Hz failed: {}", from_rate, to_rate, err));
  }
  out.resize(done);
  return out;
}

Audio load_audio(const std::string& path, int sample_rate) {
  Audio audio = read_audio(path);
  if (audio.sample_rate != sample_rate) {
    try {
      audio.samples = resample(audio.samples, audio.sample_rate, sample_rate);
    } catch (const AudioError& e) {
      throw AudioError(fmt::format("'{}': {}", path, e.what()));
    }
    audio.sample_rate = sample_rate;
  }
  return audio;
}

void write_wav(const std::string& path, const float* samples, size_t count, int sample_rate,
               WavFormat format) {
  if (sample_rate <= 0) {
    throw AudioError(fmt::format("cannot write '{}': invalid sample rate {}", path, sample_rate));
  }
  if (format == WavFormat::pcm16) {
    // NaN has no 16-bit value; refuse before creating the file rather than invent one.
    const float* nan =
        std::find_if(samples, samples + count, [](float x) { return std::isnan(x); });
    if (nan != samples + count) {
      throw AudioError(fmt::format("cannot write '{}': sample {} is NaN", path, nan - samples));
    }
  }

  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | (format == WavFormat::pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
  SndfilePtr file(sf_open(path.c_str(), SFM_WRITE, &info));
  if (!file) {
    throw AudioError(fmt::format("cannot write '{}': {}", path, sf_strerror(nullptr)));
  }

  std::vector<short> pcm;
  for (size_t pos = 0; pos < count;) {
    const size_t n = std::min(count - pos, size_t(kChunkFrames));
    sf_count_t written;
    if (format == WavFormat::pcm16) {
      pcm.resize(n);
      for (size_t i = 0; i < n; ++i) {
        const float x = std::clamp(samples[pos + i], -1.0f, 1.0f);
        pcm[i] = short(std::clamp(std::lrint(x * 32768.0f), -32768L, 32767L));
      }
      written = sf_write_short(file.get(), pcm.data(), sf_count_t(n));
    } else {
      written = sf_write_float(file.get(), samples + pos, sf_count_t(n));
    }
    if (written != sf_count_t(n)) {
      throw AudioError(fmt::format("cannot write '{}': wrote {} of {} samples: {}", path,
                                   pos + size_t(std::max<sf_count_t>(written, 0)), count,
                                   sf_strerror(file.get())));
    }
    pos += n;
  }
  // Closing patches the header sizes; a failure there leaves a broken file.
  if (const int rc = sf_close(file.release()); rc != 0) {
    throw AudioError(
        fmt::format("cannot write '{}': closing failed: {}", path, sf_error_number(rc)));
  }
}

}  // namespace diffwave
