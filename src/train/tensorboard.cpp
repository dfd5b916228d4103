#include "train/tensorboard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/png_image.h"

namespace diffwave {
namespace {

// Reflected CRC-32C table, built at compile time.
constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// Protobuf wire format, just the parts the Event/Summary messages use.
class Proto {
 public:
  void varint(int field, uint64_t value) {
    key(field, 0);
    raw_varint(value);
  }
  // int32/int64 fields: negatives are encoded as their 64-bit two's complement.
  void int64(int field, int64_t value) { varint(field, static_cast<uint64_t>(value)); }
  void float64(int field, double value) {
    key(field, 1);
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    little_endian(bits, 8);
  }
  void float32(int field, float value) {
    key(field, 5);
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    little_endian(bits, 4);
  }
  void bytes(int field, const std::string& value) {  // strings, bytes and sub-messages
    key(field, 2);
    raw_varint(value.size());
    out_ += value;
  }
  const std::string& str() const { return out_; }

 private:
  void key(int field, int wire_type) { raw_varint((static_cast<uint64_t>(field) << 3) | wire_type); }
  void raw_varint(uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7F) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  void little_endian(uint64_t value, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  }
  std::string out_;
};

// Field numbers of tensorboard/compat/proto/event.proto and summary.proto.
namespace event_field {
constexpr int kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5;
}
namespace summary_field {
constexpr int kValue = 1;                                                  // Summary
constexpr int kTag = 1, kSimpleValue = 2, kImage = 4, kAudio = 6;          // Summary.Value
constexpr int kHeight = 1, kWidth = 2, kColorspace = 3, kEncodedImage = 4;  // Summary.Image
constexpr int kSampleRate = 1, kNumChannels = 2, kLengthFrames = 3, kEncodedAudio = 4,
              kContentType = 5;  // Summary.Audio
}  // namespace summary_field

double wall_time() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

void put_le(std::string& out, uint32_t value, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

std::string encode_wav(const std::vector<float>& samples, int sample_rate) {
  const uint32_t data_bytes = static_cast<uint32_t>(samples.size() * 2);
  std::string wav;
  wav.reserve(44 + data_bytes);
  wav += "RIFF";
  put_le(wav, 36 + data_bytes, 4);
  wav += "WAVEfmt ";
  put_le(wav, 16, 4);                             // fmt chunk size
  put_le(wav, 1, 2);                              // PCM
  put_le(wav, 1, 2);                              // mono
  put_le(wav, static_cast<uint32_t>(sample_rate), 4);
  put_le(wav, static_cast<uint32_t>(sample_rate) * 2, 4);  // byte rate
  put_le(wav, 2, 2);                              // block align
  put_le(wav, 16, 2);                             // bits per sample
  wav += "data";
  put_le(wav, data_bytes, 4);
  for (float s : samples) {
    const float clipped = std::isnan(s) ? 0.0f : std::clamp(s, -1.0f, 1.0f);
    const auto pcm = static_cast<int16_t>(std::lround(clipped * 32767.0f));
    put_le(wav, static_cast<uint16_t>(pcm), 2);
  }
  return wav;
}

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = kCrc32cTable[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

EventWriter::EventWriter(const std::string& dir, const std::string& suffix) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create TensorBoard log directory " + dir + ": " + ec.message());

  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  path_ = (std::filesystem::path(dir) / ("events.out.tfevents." + std::to_string(seconds) + "." + host +
                                         "." + std::to_string(getpid()) + (suffix.empty() ? "" : "." + suffix)))
              .string();
  // O_EXCL: two writers started in the same second must not truncate each other's file.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw Error("cannot create TensorBoard event file " + path_ + ": " + std::strerror(err) +
                (err == EEXIST ? " (another writer in this process and second; give it a suffix)" : ""));
  }
  file_ = ::fdopen(fd, "wb");
  if (file_ == nullptr) {
    ::close(fd);
    throw Error("cannot open TensorBoard event file " + path_);
  }

  Proto event;
  event.float64(event_field::kWallTime, wall_time());
  event.bytes(event_field::kFileVersion, "brain.Event:2");
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    write_record(event.str());
    flush_locked();
  } catch (...) {
    std::fclose(file_);
    file_ = nullptr;
    throw;
  }
}

EventWriter::~EventWriter() {
  if (file_ == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  std::fflush(file_);
  ::fsync(::fileno(file_));
  std::fclose(file_);
}

void EventWriter::write_record(const std::string& data) {
  char header[12];
  const uint64_t length = data.size();
  for (int i = 0; i < 8; ++i) header[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  const uint32_t length_crc = masked_crc32c(header, 8);
  const uint32_t data_crc = masked_crc32c(data.data(), data.size());
  char footer[4];
  for (int i = 0; i < 4; ++i) {
    header[8 + i] = static_cast<char>((length_crc >> (8 * i)) & 0xFF);
    footer[i] = static_cast<char>((data_crc >> (8 * i)) & 0xFF);
  }
  if (std::fwrite(header, 1, sizeof header, file_) != sizeof header ||
      std::fwrite(data.data(), 1, data.size(), file_) != data.size() ||
      std::fwrite(footer, 1, sizeof footer, file_) != sizeof footer)
    throw Error("cannot write TensorBoard event file " + path_ + ": " + std::strerror(errno));
}

void EventWriter::write_summary_value(int64_t step, const std::string& value) {
  Proto summary;
  summary.bytes(summary_field::kValue, value);
  Proto event;
  event.float64(event_field::kWallTime, wall_time());
  event.int64(event_field::kStep, step);
  event.bytes(event_field::kSummary, summary.str());
  std::lock_guard<std::mutex> lock(mutex_);
  write_record(event.str());
}

void EventWriter::scalar(const std::string& tag, int64_t step, double value) {
  // simple_value is a oneof member: it is always written, even when 0, so readers see it set.
  Proto v;
  v.bytes(summary_field::kTag, tag);
  v.float32(summary_field::kSimpleValue, static_cast<float>(value));
  write_summary_value(step, v.str());
}

void EventWriter::audio(const std::string& tag, int64_t step, const std::vector<float>& samples, int sample_rate) {
  if (sample_rate <= 0) throw Error("TensorBoard audio '" + tag + "': sample rate must be positive");
  if (samples.size() > (uint64_t{1} << 30))  // WAV sizes are 32-bit
    throw Error("TensorBoard audio '" + tag + "': too many samples for a WAV file");
  Proto audio;
  audio.float32(summary_field::kSampleRate, static_cast<float>(sample_rate));
  audio.int64(summary_field::kNumChannels, 1);
  audio.int64(summary_field::kLengthFrames, static_cast<int64_t>(samples.size()));
  audio.bytes(summary_field::kEncodedAudio, encode_wav(samples, sample_rate));
  audio.bytes(summary_field::kContentType, "audio/wav");
  Proto v;
  v.bytes(summary_field::kTag, tag);
  v.bytes(summary_field::kAudio, audio.str());
  write_summary_value(step, v.str());
}

void EventWriter::image(const std::string& tag, int64_t step, int height, int width, int channels,
                        const std::vector<uint8_t>& pixels) {
  if (channels != 1 && channels != 3)
    throw Error("TensorBoard image '" + tag + "': channels must be 1 or 3, got " + std::to_string(channels));
  if (height <= 0 || width <= 0)
    throw Error("TensorBoard image '" + tag + "': empty image " + std::to_string(height) + "x" +
                std::to_string(width));
  const auto expected = static_cast<size_t>(height) * width * channels;
  if (pixels.size() != expected)
    throw Error("TensorBoard image '" + tag + "': " + std::to_string(pixels.size()) + " bytes for a " +
                std::to_string(height) + "x" + std::to_string(width) + "x" + std::to_string(channels) +
                " image (" + std::to_string(expected) + " expected)");
  Proto image;
  image.int64(summary_field::kHeight, height);
  image.int64(summary_field::kWidth, width);
  image.int64(summary_field::kColorspace, channels);  // 1 grayscale, 3 RGB: same as channels
  image.bytes(summary_field::kEncodedImage, encode_png(height, width, channels, pixels));
  Proto v;
  v.bytes(summary_field::kTag, tag);
  v.bytes(summary_field::kImage, image.str());
  write_summary_value(step, v.str());
}

void EventWriter::spectrogram(const std::string& tag, int64_t step, const std::vector<float>& mel, int n_mels,
                              int frames) {
  if (n_mels <= 0 || frames <= 0 || mel.size() != static_cast<size_t>(n_mels) * frames)
    throw Error("TensorBoard spectrogram '" + tag + "': " + std::to_string(mel.size()) + " values for " +
                std::to_string(n_mels) + " mels x " + std::to_string(frames) + " frames");
  image(tag, step, n_mels, frames, 1, spectrogram_pixels(mel.data(), n_mels, frames));
}

void EventWriter::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  flush_locked();
}

void EventWriter::flush_locked() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    throw Error("cannot flush TensorBoard event file " + path_ + ": " + std::strerror(errno));
}

}  // namespace diffwave
