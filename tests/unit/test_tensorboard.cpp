// TensorBoard event writer: CRC-32C vectors, the TFRecord framing and protobuf fields parsed
// back here, and the same files read by the real `tensorboard` Python package (skipped when
// the project's virtualenv has no tensorboard).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "support/fixtures.h"
#include "train/tensorboard.h"

using namespace diffwave;
using namespace diffwave::test;
namespace fs = std::filesystem;

namespace {

uint32_t crc_of(const std::string& s) { return crc32c(s.data(), s.size()); }

// ---- A minimal protobuf reader, independent of the writer's encoder ----
struct Field {
  int wire = 0;
  uint64_t num = 0;   // varint, fixed32, fixed64 payloads
  std::string bytes;  // length-delimited payloads
};
using Message = std::multimap<int, Field>;

uint64_t read_varint(const std::string& s, size_t& pos) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= s.size()) throw std::runtime_error("truncated varint");
    const auto byte = static_cast<uint8_t>(s[pos++]);
    value |= uint64_t(byte & 0x7F) << shift;
    if (!(byte & 0x80)) return value;
  }
  throw std::runtime_error("overlong varint");
}

uint64_t read_le(const std::string& s, size_t pos, int n) {
  if (pos + n > s.size()) throw std::runtime_error("truncated fixed field");
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t(static_cast<uint8_t>(s[pos + i])) << (8 * i);
  return v;
}

Message parse(const std::string& s) {
  Message m;
  size_t pos = 0;
  while (pos < s.size()) {
    const uint64_t key = read_varint(s, pos);
    Field f;
    f.wire = int(key & 7);
    if (f.wire == 0) {
      f.num = read_varint(s, pos);
    } else if (f.wire == 1 || f.wire == 5) {
      const int n = f.wire == 1 ? 8 : 4;
      f.num = read_le(s, pos, n);
      pos += n;
    } else if (f.wire == 2) {
      const uint64_t len = read_varint(s, pos);
      if (pos + len > s.size()) throw std::runtime_error("truncated bytes field");
      f.bytes = s.substr(pos, len);
      pos += len;
    } else {
      throw std::runtime_error("unexpected wire type " + std::to_string(f.wire));
    }
    m.emplace(int(key >> 3), f);
  }
  return m;
}

const Field& get(const Message& m, int field, int wire) {
  auto it = m.find(field);
  if (it == m.end()) throw std::runtime_error("missing field " + std::to_string(field));
  if (m.count(field) != 1) throw std::runtime_error("repeated field " + std::to_string(field));
  if (it->second.wire != wire) throw std::runtime_error("field " + std::to_string(field) + ": wrong wire type");
  return it->second;
}
double as_double(const Field& f) {
  double d;
  std::memcpy(&d, &f.num, 8);
  return d;
}
float as_float(const Field& f) {
  const auto bits = static_cast<uint32_t>(f.num);
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Splits a file into record payloads, checking both masked CRCs of every record.
std::vector<std::string> read_records(const std::string& path) {
  const std::string data = read_file(path);
  std::vector<std::string> records;
  size_t pos = 0;
  while (pos < data.size()) {
    if (pos + 12 > data.size()) throw std::runtime_error("truncated record header");
    const uint64_t length = read_le(data, pos, 8);
    if (masked_crc32c(data.data() + pos, 8) != read_le(data, pos + 8, 4))
      throw std::runtime_error("bad length crc at " + std::to_string(pos));
    if (pos + 16 + length > data.size()) throw std::runtime_error("truncated record");
    std::string body = data.substr(pos + 12, length);
    if (masked_crc32c(body.data(), body.size()) != read_le(data, pos + 12 + length, 4))
      throw std::runtime_error("bad data crc at " + std::to_string(pos));
    records.push_back(std::move(body));
    pos += 16 + length;
  }
  return records;
}

// ---- What the round trip writes, and what a reader must find ----
struct Expected {
  std::vector<std::tuple<std::string, int64_t, double>> scalars;
  std::vector<float> audio;
  std::vector<int16_t> pcm;
  int sample_rate = 22050;
  int n_mels = 8, frames = 20;
  std::vector<float> mel;
  std::vector<uint8_t> spec_pixels;  // top row = highest mel
  int rgb_h = 3, rgb_w = 5;
  std::vector<uint8_t> rgb;
};

Expected write_run(const std::string& dir) {
  Expected e;
  e.scalars = {{"loss/train", 0, 0.0}, {"loss/train", 1, 0.25}, {"loss/train", 2, -3.5e-3},
               {"lr", int64_t(1) << 33, 2e-4}};
  for (int i = 0; i < 1000; ++i) e.audio.push_back(0.5f * std::sin(2.0f * float(M_PI) * 440.0f * i / 22050.0f));
  e.audio[0] = 1.5f;  // clipped
  e.audio[1] = -2.0f;
  e.audio[2] = std::numeric_limits<float>::quiet_NaN();  // silenced
  for (float s : e.audio) {
    const float c = std::isnan(s) ? 0.0f : std::clamp(s, -1.0f, 1.0f);
    e.pcm.push_back(int16_t(std::lround(c * 32767.0f)));
  }
  for (int m = 0; m < e.n_mels; ++m)
    for (int t = 0; t < e.frames; ++t) e.mel.push_back(float(m) / (e.n_mels - 1) * 0.7f + float(t) / e.frames * 0.3f);
  e.mel[0] = -0.5f;                   // mel 0, frame 0: clipped to black
  e.mel[e.mel.size() - 1] = 1.5f;     // top mel, last frame: clipped to white
  for (int row = 0; row < e.n_mels; ++row)
    for (int t = 0; t < e.frames; ++t) {
      const float v = std::clamp(e.mel[size_t(e.n_mels - 1 - row) * e.frames + t], 0.0f, 1.0f);
      e.spec_pixels.push_back(uint8_t(std::lround(v * 255.0f)));
    }
  for (int i = 0; i < e.rgb_h * e.rgb_w * 3; ++i) e.rgb.push_back(uint8_t((i * 37) % 256));

  EventWriter w(dir, "test");
  for (const auto& [tag, step, value] : e.scalars) w.scalar(tag, step, value);
  w.audio("audio/sample", 5, e.audio, e.sample_rate);
  w.spectrogram("mel/sample", 5, e.mel, e.n_mels, e.frames);
  w.image("image/rgb", 6, e.rgb_h, e.rgb_w, 3, e.rgb);
  w.flush();
  return e;
}

class TensorBoardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("diffwave_tensorboard_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::vector<std::string> event_files() const {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir_)) files.push_back(entry.path().string());
    return files;
  }
  fs::path dir_;
};

}  // namespace

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc_of("123456789"), 0xE3069283u);
  EXPECT_EQ(crc_of(""), 0u);
  // RFC 3720 (iSCSI) appendix B.4.
  EXPECT_EQ(crc_of(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc_of(std::string(32, '\xff')), 0x62A8AB43u);
  std::string up, down;
  for (int i = 0; i < 32; ++i) {
    up.push_back(char(i));
    down.push_back(char(31 - i));
  }
  EXPECT_EQ(crc_of(up), 0x46DD794Eu);
  EXPECT_EQ(crc_of(down), 0x113FDB5Cu);
  // Continuing a checksum equals one pass over the whole.
  EXPECT_EQ(crc32c("56789", 5, crc32c("1234", 4)), 0xE3069283u);
}

TEST(Crc32c, MaskedMatchesTensorBoard) {
  // Values from tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c.
  EXPECT_EQ(masked_crc32c("123456789", 9), 0xC78AB0E5u);
  EXPECT_EQ(masked_crc32c("", 0), 0xA282EAD8u);
  const char length13[8] = {13, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(masked_crc32c(length13, 8), 0x34B8373Cu);
}

TEST_F(TensorBoardTest, FileNameAndVersionEvent) {
  const auto before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string path;
  {
    EventWriter w(dir_.string(), "rank0");
    path = w.path();
  }
  ASSERT_EQ(event_files(), std::vector<std::string>{path});
  const std::string name = fs::path(path).filename().string();
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string prefix = "events.out.tfevents.";
  ASSERT_EQ(name.rfind(prefix, 0), 0u) << name;
  const std::string tail = "." + std::string(host) + "." + std::to_string(getpid()) + ".rank0";
  ASSERT_GT(name.size(), prefix.size() + tail.size()) << name;
  EXPECT_EQ(name.substr(name.size() - tail.size()), tail) << name;
  const long long seconds = std::stoll(name.substr(prefix.size(), name.size() - prefix.size() - tail.size()));
  EXPECT_NEAR(double(seconds), before, 5.0);

  const auto records = read_records(path);
  ASSERT_EQ(records.size(), 1u);
  const Message event = parse(records[0]);
  EXPECT_EQ(get(event, 3, 2).bytes, "brain.Event:2");
  EXPECT_NEAR(as_double(get(event, 1, 1)), before, 5.0);
}

TEST_F(TensorBoardTest, NoSuffixEndsWithPid) {
  std::string name;
  {
    EventWriter w(dir_.string());
    name = fs::path(w.path()).filename().string();
  }
  const std::string tail = "." + std::to_string(getpid());
  ASSERT_GT(name.size(), tail.size());
  EXPECT_EQ(name.substr(name.size() - tail.size()), tail) << name;
}

TEST_F(TensorBoardTest, RecordsParseBackInCpp) {
  const Expected e = write_run(dir_.string());
  const auto files = event_files();
  ASSERT_EQ(files.size(), 1u);
  const auto records = read_records(files[0]);
  ASSERT_EQ(records.size(), 1 + e.scalars.size() + 3);

  std::vector<Message> values;  // the single Summary.Value of each summary event
  std::vector<int64_t> steps;
  for (size_t i = 1; i < records.size(); ++i) {
    const Message event = parse(records[i]);
    steps.push_back(int64_t(get(event, 2, 0).num));
    EXPECT_GT(as_double(get(event, 1, 1)), 1e9);
    const Message summary = parse(get(event, 5, 2).bytes);
    values.push_back(parse(get(summary, 1, 2).bytes));
  }
  for (size_t i = 0; i < e.scalars.size(); ++i) {
    const auto& [tag, step, value] = e.scalars[i];
    EXPECT_EQ(get(values[i], 1, 2).bytes, tag);
    EXPECT_EQ(steps[i], step);
    EXPECT_EQ(as_float(get(values[i], 2, 5)), float(value)) << tag;  // present even when 0
  }

  const Message& audio_value = values[e.scalars.size()];
  EXPECT_EQ(get(audio_value, 1, 2).bytes, "audio/sample");
  const Message audio = parse(get(audio_value, 6, 2).bytes);
  EXPECT_EQ(as_float(get(audio, 1, 5)), 22050.0f);
  EXPECT_EQ(get(audio, 2, 0).num, 1u);
  EXPECT_EQ(get(audio, 3, 0).num, e.audio.size());
  EXPECT_EQ(get(audio, 5, 2).bytes, "audio/wav");
  const std::string wav = get(audio, 4, 2).bytes;
  ASSERT_EQ(wav.size(), 44 + 2 * e.audio.size());
  EXPECT_EQ(wav.substr(0, 4), "RIFF");
  EXPECT_EQ(read_le(wav, 4, 4), wav.size() - 8);
  EXPECT_EQ(wav.substr(8, 8), "WAVEfmt ");
  EXPECT_EQ(read_le(wav, 20, 2), 1u);      // PCM
  EXPECT_EQ(read_le(wav, 22, 2), 1u);      // mono
  EXPECT_EQ(read_le(wav, 24, 4), 22050u);  // rate
  EXPECT_EQ(read_le(wav, 34, 2), 16u);     // bits
  EXPECT_EQ(wav.substr(36, 4), "data");
  for (size_t i = 0; i < e.pcm.size(); ++i)
    ASSERT_EQ(int16_t(read_le(wav, 44 + 2 * i, 2)), e.pcm[i]) << "sample " << i;
  EXPECT_EQ(e.pcm[0], 32767);
  EXPECT_EQ(e.pcm[1], -32767);
  EXPECT_EQ(e.pcm[2], 0);

  for (size_t k = 0; k < 2; ++k) {
    const Message& v = values[e.scalars.size() + 1 + k];
    const bool spec = k == 0;
    EXPECT_EQ(get(v, 1, 2).bytes, spec ? "mel/sample" : "image/rgb");
    const Message image = parse(get(v, 4, 2).bytes);
    const int h = spec ? e.n_mels : e.rgb_h, w = spec ? e.frames : e.rgb_w;
    EXPECT_EQ(get(image, 1, 0).num, uint64_t(h));
    EXPECT_EQ(get(image, 2, 0).num, uint64_t(w));
    EXPECT_EQ(get(image, 3, 0).num, spec ? 1u : 3u);
    const std::string png = get(image, 4, 2).bytes;
    ASSERT_GT(png.size(), 33u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(png.substr(12, 4), "IHDR");
    auto be32 = [&](size_t pos) {
      return (uint32_t(uint8_t(png[pos])) << 24) | (uint32_t(uint8_t(png[pos + 1])) << 16) |
             (uint32_t(uint8_t(png[pos + 2])) << 8) | uint32_t(uint8_t(png[pos + 3]));
    };
    EXPECT_EQ(be32(16), uint32_t(w));
    EXPECT_EQ(be32(20), uint32_t(h));
    EXPECT_EQ(int(png[24]), 8);               // bit depth
    EXPECT_EQ(int(png[25]), spec ? 0 : 2);    // gray / RGB
  }
  EXPECT_EQ(steps.back(), 6);
}

TEST_F(TensorBoardTest, FlushedRecordsAreCompleteWhileOpen) {
  EventWriter w(dir_.string());
  w.scalar("a", 1, 1.0);
  w.flush();
  EXPECT_EQ(read_records(w.path()).size(), 2u);
  w.scalar("a", 2, 2.0);
  w.flush();
  EXPECT_EQ(read_records(w.path()).size(), 3u);
}

TEST_F(TensorBoardTest, ReadByTensorBoardPackage) {
  if (const auto why = reference_python_lacks("tensorboard"); !why.empty()) GTEST_SKIP() << why;
  const std::string python = reference_python();

  const Expected e = write_run(dir_.string());
  // stderr apart (the braces keep run_command's 2>&1 off it): tensorboard logs notices, such
  // as "TensorFlow installation not found", that would spoil the JSON.
  const auto r = run_command("{ '" + python + "' '" + source_path("tests/reference/read_events.py") + "' '" +
                             dir_.string() + "' 2>'" + (dir_ / "stderr.txt").string() + "'; }");
  ASSERT_EQ(r.status, 0) << r.output << read_file((dir_ / "stderr.txt").string());
  const auto j = nlohmann::json::parse(r.output);

  EXPECT_EQ(j["records"], 1 + e.scalars.size() + 3);  // every framing CRC checked by tensorboard's code
  EXPECT_EQ(j["file_version"], "brain.Event:2");

  std::map<std::string, std::vector<std::pair<int64_t, float>>> scalars;
  for (const auto& [tag, step, value] : e.scalars) scalars[tag].emplace_back(step, float(value));
  ASSERT_EQ(j["scalars"].size(), scalars.size()) << j["scalars"].dump();
  for (const auto& [tag, points] : scalars) {
    const auto& got = j["scalars"][tag];
    ASSERT_EQ(got.size(), points.size()) << tag;
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(got[i][0].get<int64_t>(), points[i].first) << tag;
      EXPECT_EQ(got[i][1].get<float>(), points[i].second) << tag;
    }
  }

  ASSERT_EQ(j["audio"].size(), 1u) << j["audio"].dump();
  EXPECT_EQ(j["audio"]["audio/sample"], nlohmann::json::parse("[[5, 22050.0, 1000]]"));
  const auto& wav = j["decoded_audio"]["audio/sample"][0];
  EXPECT_EQ(wav[1], "audio/wav");
  EXPECT_EQ(wav[2], 1);
  EXPECT_EQ(wav[3], e.sample_rate);
  EXPECT_EQ(wav[4].get<std::vector<int16_t>>(), e.pcm);

  ASSERT_EQ(j["images"].size(), 2u) << j["images"].dump();
  EXPECT_EQ(j["images"]["mel/sample"], nlohmann::json::array({{5, e.frames, e.n_mels}}));
  EXPECT_EQ(j["images"]["image/rgb"], nlohmann::json::array({{6, e.rgb_w, e.rgb_h}}));
  const auto& spec = j["decoded_images"]["mel/sample"][0];
  EXPECT_EQ(spec[1], e.frames);
  EXPECT_EQ(spec[2], e.n_mels);
  EXPECT_EQ(spec[3], 1);
  EXPECT_EQ(spec[4].get<std::vector<uint8_t>>(), e.spec_pixels);
  EXPECT_EQ(spec[4][e.frames - 1], 255) << "top-right pixel is the highest mel, clipped";
  EXPECT_EQ(spec[4][(e.n_mels - 1) * e.frames], 0) << "bottom-left pixel is mel 0, clipped";
  const auto& rgb = j["decoded_images"]["image/rgb"][0];
  EXPECT_EQ(rgb[3], 3);
  EXPECT_EQ(rgb[4].get<std::vector<uint8_t>>(), e.rgb);

  // What the TensorBoard UI lists after migrating these legacy summaries.
  EXPECT_EQ(j["plugins"]["scalars"], nlohmann::json::parse(R"(["loss/train", "lr"])"));
  EXPECT_EQ(j["plugins"]["images"], nlohmann::json::parse(R"(["image/rgb", "mel/sample"])"));
  EXPECT_EQ(j["plugins"]["audio"], nlohmann::json::parse(R"(["audio/sample"])"));
}

TEST_F(TensorBoardTest, ErrorsNameThePath) {
  fs::create_directories(dir_);
  const std::string blocker = (dir_ / "not_a_dir").string();
  std::ofstream(blocker) << "x";
  try {
    EventWriter w(blocker + "/run");
    ADD_FAILURE() << "expected diffwave::Error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find(blocker), std::string::npos) << err.what();
  }

  EventWriter w(dir_.string());
  EXPECT_THROW(w.image("x", 0, 2, 2, 1, std::vector<uint8_t>(3)), Error);
  EXPECT_THROW(w.image("x", 0, 2, 2, 2, std::vector<uint8_t>(8)), Error);
  EXPECT_THROW(w.spectrogram("x", 0, std::vector<float>(10), 3, 3), Error);
  EXPECT_THROW(w.audio("x", 0, std::vector<float>(10), 0), Error);
  w.flush();
  EXPECT_EQ(read_records(w.path()).size(), 1u) << "a rejected summary writes nothing";
}
