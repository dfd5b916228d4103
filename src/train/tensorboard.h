// TensorBoard event-file writer without TensorFlow or the protobuf library: the few
// `tensorflow.Event` / `Summary` messages we need are hand-encoded, framed as TFRecords.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

namespace diffwave {

// CRC-32C (Castagnoli), as TFRecord framing uses. `crc` continues an earlier checksum.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
// The masked form stored in TFRecords (a CRC of data that embeds CRCs is weak otherwise).
uint32_t masked_crc32c(const void* data, size_t size);

// Appends events to one file that TensorBoard reads as a run. Methods may be called from
// several threads; each record is written whole.
class EventWriter {
 public:
  // Creates <dir>/events.out.tfevents.<unix seconds>.<hostname>.<pid>[.<suffix>] (making dir
  // as needed) and writes the file_version event. Throws diffwave::Error if the file exists
  // or cannot be created.
  explicit EventWriter(const std::string& dir, const std::string& suffix = "");
  ~EventWriter();  // flushes and closes; never throws
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  const std::string& path() const { return path_; }

  void scalar(const std::string& tag, int64_t step, double value);  // stored as float32
  // Mono samples in [-1, 1] (clipped), stored as a 16-bit PCM WAV.
  void audio(const std::string& tag, int64_t step, const std::vector<float>& samples, int sample_rate);
  // 8-bit grayscale (channels 1) or RGB (channels 3), row-major [height][width][channels],
  // stored as PNG.
  void image(const std::string& tag, int64_t step, int height, int width, int channels,
             const std::vector<uint8_t>& pixels);
  // A row-major [n_mels][frames] spectrogram with values in [0, 1] (clipped) as a grayscale
  // image, low frequencies at the bottom.
  void spectrogram(const std::string& tag, int64_t step, const std::vector<float>& mel, int n_mels, int frames);

  void flush();  // fflush + fsync, so a reader sees complete records

 private:
  void write_record(const std::string& data);  // caller holds mutex_
  void write_summary_value(int64_t step, const std::string& value);
  void flush_locked();

  std::string path_;
  std::FILE* file_ = nullptr;
  std::mutex mutex_;
};

}  // namespace diffwave
