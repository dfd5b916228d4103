// diffwave-prep's input checks and corpus discovery, in process: each kind of bad input gets
// its own reason, and no bad input throws.
#include <sndfile.h>

#include <cstring>
#include <fstream>

#include "common/error.h"
#include "data/corpus.h"
#include "data/shard_format.h"
#include "prep/input_check.h"
#include "support/prep_corpus.h"

using namespace diffwave;
using namespace diffwave::prep;
using diffwave::test::TempDir;

namespace {

CheckRules rules() { return CheckRules::from(Config{}); }

void write_float_wav(const std::string& path, std::vector<float> x, int rate = 22050) {
  write_wav(path, x.data(), x.size(), rate, WavFormat::float32);
}

void expect_rejected(const CheckedInput& r, const std::string& code) {
  EXPECT_EQ(r.status, Status::rejected) << r.reason;
  EXPECT_EQ(reason_code(r.reason), code) << r.reason;
  EXPECT_TRUE(r.samples.empty());
  EXPECT_TRUE(r.content_hash.empty());
}

}  // namespace

TEST(PrepInputCheck, GoodInputIsStoredOnTheInt16Grid) {
  TempDir dir;
  const auto path = dir / "a.wav";
  auto x = test::test_tone(1.0, 22050, 1);
  write_float_wav(path, x);  // float file: off-grid values
  const auto r = check_input(path, rules());
  ASSERT_EQ(r.status, Status::ok) << r.reason;
  ASSERT_EQ(r.samples.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(r.samples[i], from_pcm16(to_pcm16(x[i]))) << i;
  EXPECT_EQ(r.content_hash.size(), 64u);
}

TEST(PrepInputCheck, Float32StorageKeepsSamples) {
  TempDir dir;
  auto x = test::test_tone(1.0, 22050, 2);
  write_float_wav(dir / "a.wav", x);
  auto rules32 = rules();
  rules32.int16 = false;
  const auto r = check_input(dir / "a.wav", rules32);
  ASSERT_EQ(r.status, Status::ok) << r.reason;
  EXPECT_EQ(r.samples, x);
}

TEST(PrepInputCheck, ResamplesAndDownmixes) {
  TempDir dir;
  const auto path = dir / "stereo16k.wav";
  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = 2;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr);
  const auto x = test::test_tone(1.0, 16000, 3);
  std::vector<float> interleaved;
  for (float v : x) interleaved.insert(interleaved.end(), {v, -v * 0.5f});
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(x.size()));
  sf_close(f);
  const auto r = check_input(path, rules());
  ASSERT_EQ(r.status, Status::ok) << r.reason;
  EXPECT_NEAR(double(r.samples.size()), 22050.0, 2.0);
}

TEST(PrepInputCheck, ClippingIsAWarningAndClamped) {
  TempDir dir;
  auto x = test::test_tone(1.0, 22050, 4);
  for (size_t i = 0; i < 100; ++i) x[i * 10] = 1.5f;
  write_float_wav(dir / "loud.wav", x);
  const auto r = check_input(dir / "loud.wav", rules());
  EXPECT_EQ(r.status, Status::warning);
  EXPECT_EQ(reason_code(r.reason), "clipped") << r.reason;
  EXPECT_NE(r.reason.find("100 samples"), std::string::npos) << r.reason;
  for (float v : r.samples) ASSERT_LE(std::abs(v), 1.0f);
}

TEST(PrepInputCheck, Unreadable) {
  TempDir dir;
  expect_rejected(check_input(dir / "missing.wav", rules()), "unreadable");
  std::filesystem::create_directory(dir / "folder.wav");
  expect_rejected(check_input(dir / "folder.wav", rules()), "unreadable");
}

TEST(PrepInputCheck, Empty) {
  TempDir dir;
  std::ofstream(dir / "zero.wav").close();
  expect_rejected(check_input(dir / "zero.wav", rules()), "empty");
  write_wav(dir / "no_frames.wav", nullptr, 0, 22050);  // a valid header and no samples
  expect_rejected(check_input(dir / "no_frames.wav", rules()), "empty");
}

TEST(PrepInputCheck, NotAudio) {
  TempDir dir;
  std::ofstream(dir / "text.wav") << "this is a text file, not a RIFF header\n";
  expect_rejected(check_input(dir / "text.wav", rules()), "not-audio");
}

TEST(PrepInputCheck, TruncatedAndLyingHeader) {
  TempDir dir;
  test::write_tone(dir / "full.wav", 2.0, 5);
  const auto size = std::filesystem::file_size(dir / "full.wav");
  std::filesystem::copy_file(dir / "full.wav", dir / "cut.wav");
  std::filesystem::resize_file(dir / "cut.wav", size / 2);
  expect_rejected(check_input(dir / "cut.wav", rules()), "truncated");

  // The data chunk claims twice the bytes the file holds.
  std::filesystem::copy_file(dir / "full.wav", dir / "liar.wav");
  std::fstream f(dir / "liar.wav", std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  const auto data = bytes.find("data");
  ASSERT_NE(data, std::string::npos);
  uint32_t claimed = 0;
  std::memcpy(&claimed, bytes.data() + data + 4, 4);
  claimed *= 2;
  f.seekp(static_cast<std::streamoff>(data + 4));
  f.write(reinterpret_cast<const char*>(&claimed), 4);
  f.close();
  expect_rejected(check_input(dir / "liar.wav", rules()), "truncated");
}

// A header may claim any channel count or rate: 1,024 channels took a 256 MiB read buffer, and
// 1 Hz resampled to 22,050 samples per sample read. Both are rejected naming the claim.
TEST(PrepInputCheck, AbsurdChannelCountsAndRatesAreRejected) {
  TempDir dir;
  test::write_raw_wav(dir / "many.wav", 1024, 22050, 64);
  auto r = check_input(dir / "many.wav", rules());
  expect_rejected(r, "unsupported");
  EXPECT_NE(r.reason.find("1024 channels"), std::string::npos) << r.reason;
  test::write_raw_wav(dir / "slow.wav", 1, 1, 200);
  r = check_input(dir / "slow.wav", rules());
  expect_rejected(r, "unsupported");
  EXPECT_NE(r.reason.find("1 Hz"), std::string::npos) << r.reason;
  test::write_raw_wav(dir / "fine.wav", 2, 22050, 22050);
  EXPECT_EQ(check_input(dir / "fine.wav", rules()).status, Status::ok);
}

TEST(PrepInputCheck, NonFinite) {
  TempDir dir;
  auto x = test::test_tone(1.0, 22050, 6);
  x[1000] = std::nanf("");
  write_float_wav(dir / "nan.wav", x);
  const auto r = check_input(dir / "nan.wav", rules());
  expect_rejected(r, "non-finite");
  EXPECT_NE(r.reason.find("sample 1000"), std::string::npos) << r.reason;
  x[1000] = INFINITY;
  write_float_wav(dir / "inf.wav", x);
  expect_rejected(check_input(dir / "inf.wav", rules()), "non-finite");
}

TEST(PrepInputCheck, TooShortForOneCrop) {
  TempDir dir;
  // 61 frames = floor(n / 256) + 1 < 62: one sample short of a training crop.
  write_wav(dir / "short.wav", test::test_tone(1.0, 22050, 7).data(), 60 * 256 + 255, 22050);
  expect_rejected(check_input(dir / "short.wav", rules()), "too-short");
  write_wav(dir / "enough.wav", test::test_tone(1.0, 22050, 7).data(), 61 * 256, 22050);
  EXPECT_EQ(check_input(dir / "enough.wav", rules()).status, Status::ok);
  auto tiny = rules();
  tiny.min_frames = 1;  // still needs more than n_fft / 2 samples for the reflect padding
  write_wav(dir / "tiny.wav", test::test_tone(1.0, 22050, 7).data(), 300, 22050);
  expect_rejected(check_input(dir / "tiny.wav", tiny), "too-short");
}

TEST(PrepInputCheck, Silent) {
  TempDir dir;
  std::vector<float> zeros(22050, 0.0f);
  write_wav(dir / "zeros.wav", zeros.data(), zeros.size(), 22050);
  expect_rejected(check_input(dir / "zeros.wav", rules()), "silent");
  std::vector<float> hiss(22050);  // +-1 LSB: about -90 dBFS
  for (size_t i = 0; i < hiss.size(); ++i) hiss[i] = (i % 2 ? 1.0f : -1.0f) / 32768.0f;
  write_wav(dir / "hiss.wav", hiss.data(), hiss.size(), 22050);
  expect_rejected(check_input(dir / "hiss.wav", rules()), "silent");
}

TEST(PrepInputCheck, SameContentSameHash) {
  TempDir dir;
  test::write_tone(dir / "a.wav", 1.0, 8);
  std::filesystem::copy_file(dir / "a.wav", dir / "b.wav");
  test::write_tone(dir / "c.wav", 1.0, 9);
  const auto a = check_input(dir / "a.wav", rules()), b = check_input(dir / "b.wav", rules()),
             c = check_input(dir / "c.wav", rules());
  EXPECT_EQ(a.content_hash, b.content_hash);
  EXPECT_NE(a.content_hash, c.content_hash);
}

TEST(PrepCorpus, FolderIsSearchedRecursivelyAnyCase) {
  TempDir dir;
  std::filesystem::create_directories(dir / "spk1/deep");
  for (const auto* name : {"b.wav", "spk1/a.FLAC", "spk1/deep/c.Ogg", "d.mp3", "notes.txt", "e.wav.bak"})
    std::ofstream(dir / name) << "x";
  const auto c = discover_corpus(dir.str());
  EXPECT_EQ(c.kind, "folder");
  ASSERT_EQ(c.files.size(), 4u);
  std::vector<std::string> ids;
  for (const auto& f : c.files) ids.push_back(f.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"b", "d", "spk1/a", "spk1/deep/c"}));  // sorted by path
}

TEST(PrepCorpus, SameStemKeepsExtensions) {
  TempDir dir;
  std::ofstream(dir / "a.wav") << "x";
  std::ofstream(dir / "a.flac") << "x";
  const auto c = discover_corpus(dir.str());
  ASSERT_EQ(c.files.size(), 2u);
  EXPECT_EQ(c.files[0].id, "a.flac");
  EXPECT_EQ(c.files[1].id, "a.wav");
}

TEST(PrepCorpus, LJSpeechUsesMetadataAndReportsTheRest) {
  TempDir dir;
  std::filesystem::create_directories(dir / "wavs");
  std::ofstream(dir / "metadata.csv") << "LJ001-0001|Text one.|Text one.\nLJ001-0002|Two|Two\n";
  std::ofstream(dir / "wavs/LJ001-0001.wav") << "x";
  std::ofstream(dir / "wavs/extra.wav") << "x";
  const auto c = discover_corpus(dir.str());
  EXPECT_EQ(c.kind, "ljspeech");
  ASSERT_EQ(c.files.size(), 3u);
  EXPECT_EQ(c.files[0].id, "LJ001-0001");
  EXPECT_TRUE(c.files[0].problem.empty());
  EXPECT_EQ(c.files[1].id, "LJ001-0002");  // listed but missing: fails when opened, with its row
  EXPECT_EQ(reason_code(c.files[2].problem), "unlisted");
}

TEST(PrepCorpus, ListFileRelativeToItsFolder) {
  TempDir dir;
  std::filesystem::create_directories(dir / "audio");
  std::ofstream(dir / "audio/x.wav") << "x";
  std::ofstream(dir / "list.txt") << "# inputs\naudio/x.wav\n\n" << (dir / "abs.wav") << "\naudio/x.wav\n";
  const auto c = discover_corpus(dir / "list.txt");
  EXPECT_EQ(c.kind, "list");
  ASSERT_EQ(c.files.size(), 3u);
  EXPECT_EQ(c.files[1].path, dir / "audio/x.wav");
  EXPECT_TRUE(c.files[1].problem.empty());
  EXPECT_EQ(reason_code(c.files[2].problem), "duplicate");
  EXPECT_NE(c.files[1].id, c.files[2].id);
}

TEST(PrepCorpus, MissingInputIsAnError) {
  EXPECT_THROW(discover_corpus("/nonexistent/corpus"), diffwave::Error);
}
