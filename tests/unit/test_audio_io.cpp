// Audio I/O: exact PCM/float round trips, downmixing, other codecs, resampling, and the errors
// raised for files that cannot be used. Every test writes its own files into a fresh temp dir.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "audio/audio_io.h"
#include "common/error.h"

namespace fs = std::filesystem;
using diffwave::Audio;
using diffwave::AudioError;
using diffwave::WavFormat;

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<float> sine(double freq, int rate, size_t n, double amp = 0.5) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = float(amp * std::sin(2 * kPi * freq * double(i) / rate));
  return x;
}

// Magnitude of the DFT of x at one frequency, normalised so a sine of amplitude A gives ~A/2.
double dft_magnitude(const std::vector<float>& x, double freq, int rate) {
  double re = 0, im = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = 2 * kPi * freq * double(i) / rate;
    re += x[i] * std::cos(w);
    im -= x[i] * std::sin(w);
  }
  return std::hypot(re, im) / double(x.size());
}

double rms_diff(const std::vector<float>& a, const std::vector<float>& b, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / double(to - from));
}

// Returns the AudioError message, or records a failure when nothing (or something else) is thrown.
std::string audio_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const AudioError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected AudioError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected AudioError, nothing thrown";
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class AudioIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("diffwave_audio_io_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes interleaved float frames through libsndfile in any format; false if it cannot.
  static bool write_sndfile(const std::string& p, int format, int channels, int rate,
                            const std::vector<float>& interleaved) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
    if (!f) return false;
    const sf_count_t frames = sf_count_t(interleaved.size()) / channels;
    const bool ok = sf_writef_float(f, interleaved.data(), frames) == frames;
    return sf_close(f) == 0 && ok;
  }

  static bool can_write(int format, int channels, int rate) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    return sf_format_check(&info) != 0;
  }

  fs::path dir_;
};

TEST_F(AudioIoTest, Pcm16RoundTripIsExactOnTheGrid) {
  std::vector<float> x;
  for (int k : {-32768, -32767, -16384, -1, 0, 1, 2, 12345, 32766, 32767})
    x.push_back(k / 32768.0f);
  for (int i = 0; i < 1000; ++i) x.push_back(float((i * 7919) % 65536 - 32768) / 32768.0f);
  const std::string p = path("pcm16.wav");
  diffwave::write_wav(p, x.data(), x.size(), 22050);
  const Audio a = diffwave::read_audio(p);
  EXPECT_EQ(a.sample_rate, 22050);
  EXPECT_EQ(a.samples, x);
}

TEST_F(AudioIoTest, Pcm16RoundsToNearestStep) {
  const std::vector<float> x = {0.4f / 32768, 0.6f / 32768, -0.6f / 32768, 100.3f / 32768};
  const std::string p = path("round.wav");
  diffwave::write_wav(p, x.data(), x.size(), 16000);
  const std::vector<float> want = {0.0f, 1 / 32768.0f, -1 / 32768.0f, 100 / 32768.0f};
  EXPECT_EQ(diffwave::read_audio(p).samples, want);
}

TEST_F(AudioIoTest, Pcm16ClampsOutOfRangeValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {2.0f, -3.0f, 1.0f, -1.0f, 0.99999f, inf, -inf, 1.00001f};
  const std::string p = path("clamp.wav");
  diffwave::write_wav(p, x.data(), x.size(), 22050);
  const float top = 32767 / 32768.0f;
  const std::vector<float> want = {top, -1.0f, top, -1.0f, top, top, -1.0f, top};
  EXPECT_EQ(diffwave::read_audio(p).samples, want);
}

TEST_F(AudioIoTest, Pcm16RefusesNanAndNamesThePath) {
  const std::vector<float> x = {0.1f, std::nanf(""), 0.2f};
  const std::string p = path("nan.wav");
  const std::string msg = audio_error([&] { diffwave::write_wav(p, x.data(), x.size(), 22050); });
  EXPECT_TRUE(contains(msg, p)) << msg;
  EXPECT_TRUE(contains(msg, "NaN")) << msg;
}

TEST_F(AudioIoTest, Float32RoundTripIsExact) {
  std::vector<float> x = sine(123.4, 24000, 5000, 0.9);
  x.push_back(1.5f);  // float files are not clipped
  x.push_back(-2.25f);
  x.push_back(1e-30f);
  const std::string p = path("float.wav");
  diffwave::write_wav(p, {x, 24000}, WavFormat::float32);
  const Audio a = diffwave::read_audio(p);
  EXPECT_EQ(a.sample_rate, 24000);
  EXPECT_EQ(a.samples, x);
  EXPECT_EQ(diffwave::probe_audio(p).format, "WAV (Microsoft) / 32 bit float");
}

TEST_F(AudioIoTest, FloatFileKeepsNanAndInf) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {0.5f, std::nanf(""), inf, -inf, 3.0f};
  const std::string p = path("nonfinite.wav");
  diffwave::write_wav(p, x.data(), x.size(), 22050, WavFormat::float32);
  const std::vector<float> y = diffwave::read_audio(p).samples;
  ASSERT_EQ(y.size(), x.size());
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_TRUE(std::isnan(y[1]));
  EXPECT_EQ(y[2], inf);
  EXPECT_EQ(y[3], -inf);
  EXPECT_EQ(y[4], 3.0f);
}

TEST_F(AudioIoTest, StereoIsDownmixedToChannelMean) {
  const size_t n = 3000;
  const std::vector<float> left = sine(440, 22050, n, 0.7), right = sine(97, 22050, n, 0.3);
  std::vector<float> inter;
  for (size_t i = 0; i < n; ++i) {
    inter.push_back(left[i]);
    inter.push_back(right[i]);
  }
  const std::string p = path("stereo.wav");
  ASSERT_TRUE(write_sndfile(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 22050, inter));

  const diffwave::AudioInfo info = diffwave::probe_audio(p);
  EXPECT_EQ(info.channels, 2);
  EXPECT_EQ(info.sample_rate, 22050);
  EXPECT_EQ(info.frames, int64_t(n));

  const Audio a = diffwave::read_audio(p);
  ASSERT_EQ(a.samples.size(), n);
  for (size_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(a.samples[i], (left[i] + right[i]) / 2) << i;
}

TEST_F(AudioIoTest, ProbeReadsHeaderOnly) {
  const std::vector<float> x(777, 0.25f);
  const std::string p = path("probe.wav");
  diffwave::write_wav(p, x.data(), x.size(), 16000);
  const diffwave::AudioInfo info = diffwave::probe_audio(p);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.frames, 777);
  EXPECT_EQ(info.format, "WAV (Microsoft) / Signed 16 bit PCM");
}

TEST_F(AudioIoTest, Pcm24IsScaledByTwoToThe23) {
  const std::vector<int> v = {-8388608, -8388607, -1, 0, 1, 4660, 8388607};
  std::vector<int> left_justified;
  for (int s : v) left_justified.push_back(int(uint32_t(s) << 8));  // libsndfile's int is 32-bit
  const std::string p = path("pcm24.wav");
  SF_INFO info{};
  info.samplerate = 48000;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
  SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  ASSERT_EQ(sf_write_int(f, left_justified.data(), sf_count_t(v.size())), sf_count_t(v.size()));
  ASSERT_EQ(sf_close(f), 0);

  const Audio a = diffwave::read_audio(p);
  ASSERT_EQ(a.samples.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(a.samples[i], float(v[i]) / 8388608.0f) << i;
}

TEST_F(AudioIoTest, FlacIsLossless) {
  const std::vector<float> x = sine(440, 22050, 22050);
  std::vector<short> pcm;
  for (float s : x) pcm.push_back(short(std::lrint(s * 32768)));
  // Shorts, not floats: libsndfile scales float writes to PCM by 32767 but reads back by 32768.
  const std::string p = path("tone.flac");
  SF_INFO info{};
  info.samplerate = 22050;
  info.channels = 1;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  ASSERT_EQ(sf_write_short(f, pcm.data(), sf_count_t(pcm.size())), sf_count_t(pcm.size()));
  ASSERT_EQ(sf_close(f), 0);
  const Audio a = diffwave::read_audio(p);
  EXPECT_EQ(a.sample_rate, 22050);
  ASSERT_EQ(a.samples.size(), pcm.size());
  for (size_t i = 0; i < pcm.size(); ++i) ASSERT_EQ(a.samples[i], pcm[i] / 32768.0f) << i;
}

TEST_F(AudioIoTest, OggVorbisIsReadClose) {
  const int format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
  if (!can_write(format, 1, 44100)) GTEST_SKIP() << "libsndfile built without Ogg/Vorbis";
  const std::vector<float> x = sine(440, 44100, 44100);
  const std::string p = path("tone.ogg");
  ASSERT_TRUE(write_sndfile(p, format, 1, 44100, x));
  const Audio a = diffwave::read_audio(p);
  EXPECT_EQ(a.sample_rate, 44100);
  ASSERT_EQ(a.samples.size(), x.size());
  EXPECT_LT(rms_diff(a.samples, x, 0, x.size()), 0.01);
}

TEST_F(AudioIoTest, Mp3IsReadClose) {
  const int format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
  if (!can_write(format, 1, 44100)) {
    GTEST_SKIP() << "libsndfile cannot write MP3 (built without LAME/mpg123)";
  }
  const std::vector<float> x = sine(440, 44100, 44100);
  const std::string p = path("tone.mp3");
  ASSERT_TRUE(write_sndfile(p, format, 1, 44100, x)) << sf_strerror(nullptr);
  const Audio a = diffwave::read_audio(p);
  EXPECT_EQ(a.sample_rate, 44100);
  // The LAME tag carries encoder delay and padding, so gapless decoding restores the length.
  ASSERT_EQ(a.samples.size(), x.size());
  EXPECT_LT(rms_diff(a.samples, x, 0, x.size()), 0.02);
}

TEST_F(AudioIoTest, ResampleKeepsLengthRatioAndFrequency) {
  const std::vector<float> x = sine(440, 48000, 48000);
  const std::vector<float> y = diffwave::resample(x, 48000, 22050);
  ASSERT_EQ(y.size(), 22050u);

  const double peak = dft_magnitude(y, 440, 22050);
  EXPECT_NEAR(peak, 0.25, 0.01);  // amplitude 0.5 survives
  for (double f : {400.0, 420.0, 460.0, 480.0, 880.0}) {
    EXPECT_LT(dft_magnitude(y, f, 22050), peak / 100) << f;
  }
  int crossings = 0;
  for (size_t i = 1; i < y.size(); ++i) crossings += (y[i - 1] < 0) != (y[i] < 0);
  EXPECT_NEAR(crossings, 880, 3);
}

TEST_F(AudioIoTest, ResampleLengthIsRoundedRatio) {
  for (auto [n, from, to] : {std::tuple<size_t, int, int>{12345, 48000, 22050},
                             {1001, 22050, 48000},
                             {7, 44100, 16000},
                             {100000, 44100, 22050}}) {
    const std::vector<float> x = sine(300, from, n);
    const size_t want = size_t(std::llround(double(n) * to / from));
    EXPECT_EQ(diffwave::resample(x, from, to).size(), want) << n << " " << from << "->" << to;
  }
}

TEST_F(AudioIoTest, ResampleSameRateCopiesAndRejectsBadRates) {
  const std::vector<float> x = sine(440, 22050, 1000);
  EXPECT_EQ(diffwave::resample(x, 22050, 22050), x);
  EXPECT_TRUE(diffwave::resample({}, 48000, 22050).empty());
  EXPECT_THROW(diffwave::resample(x, 0, 22050), AudioError);
  EXPECT_THROW(diffwave::resample(x, 22050, -1), AudioError);
}

TEST_F(AudioIoTest, LoadAudioResamplesToTheRequestedRate) {
  const std::vector<float> x = sine(440, 48000, 24000);
  const std::string p = path("load.wav");
  diffwave::write_wav(p, x.data(), x.size(), 48000, WavFormat::float32);
  const Audio same = diffwave::load_audio(p, 48000);
  EXPECT_EQ(same.sample_rate, 48000);
  EXPECT_EQ(same.samples, x);
  const Audio a = diffwave::load_audio(p, 22050);
  EXPECT_EQ(a.sample_rate, 22050);
  EXPECT_EQ(a.samples.size(), 11025u);
}

TEST_F(AudioIoTest, MissingFileIsAnError) {
  const std::string p = path("does_not_exist.wav");
  const std::string msg = audio_error([&] { diffwave::read_audio(p); });
  EXPECT_TRUE(contains(msg, p)) << msg;
  EXPECT_TRUE(contains(audio_error([&] { diffwave::probe_audio(p); }), p));
  EXPECT_TRUE(contains(audio_error([&] { diffwave::load_audio(p, 22050); }), p));
}

TEST_F(AudioIoTest, TextFileNamedWavIsAnError) {
  const std::string p = path("notes.wav");
  std::ofstream(p) << "this is not audio, just some text that happens to end in .wav\n";
  const std::string msg = audio_error([&] { diffwave::read_audio(p); });
  EXPECT_TRUE(contains(msg, p)) << msg;
}

TEST_F(AudioIoTest, ZeroLengthFileIsAnError) {
  const std::string p = path("zero.wav");
  std::ofstream(p).close();
  ASSERT_EQ(fs::file_size(p), 0u);
  const std::string msg = audio_error([&] { diffwave::read_audio(p); });
  EXPECT_TRUE(contains(msg, p)) << msg;
  EXPECT_TRUE(contains(msg, "empty")) << msg;
}

TEST_F(AudioIoTest, HeaderOnlyWavIsEmpty) {
  const std::string p = path("empty.wav");
  diffwave::write_wav(p, nullptr, 0, 22050);
  EXPECT_EQ(diffwave::probe_audio(p).frames, 0);
  const std::string msg = audio_error([&] { diffwave::read_audio(p); });
  EXPECT_TRUE(contains(msg, p)) << msg;
  EXPECT_TRUE(contains(msg, "empty")) << msg;
}

TEST_F(AudioIoTest, TruncatedWavIsAnError) {
  const std::vector<float> x = sine(440, 22050, 1000);
  const std::string p = path("cut.wav");
  diffwave::write_wav(p, x.data(), x.size(), 22050);
  const auto full = fs::file_size(p);
  ASSERT_EQ(full, 44u + 2 * 1000);
  // libsndfile quietly shrinks its frame count to fit the file, so this must be caught by us.
  for (uintmax_t size : {full - 1400, full - 1, uintmax_t{44}}) {
    fs::resize_file(p, size);
    const int64_t left = int64_t(size - 44) / 2;
    const std::string msg = audio_error([&] { diffwave::read_audio(p); });
    EXPECT_TRUE(contains(msg, p)) << msg;
    EXPECT_TRUE(
        contains(msg, "truncated: header says 1000 frames, decoded " + std::to_string(left)))
        << msg;
    EXPECT_EQ(diffwave::probe_audio(p).frames, 1000);
  }
}

TEST_F(AudioIoTest, TruncatedFloatWavAndAiffAreErrors) {
  const std::vector<float> x = sine(440, 22050, 1000);
  const std::string wav = path("cut_float.wav"), aiff = path("cut.aiff");
  ASSERT_TRUE(write_sndfile(wav, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 22050, x));
  ASSERT_TRUE(write_sndfile(aiff, SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 1, 22050, x));
  for (const std::string& p : {wav, aiff}) {
    fs::resize_file(p, fs::file_size(p) - 800);
    const std::string msg = audio_error([&] { diffwave::read_audio(p); });
    EXPECT_TRUE(contains(msg, p)) << msg;
    EXPECT_TRUE(contains(msg, "truncated: header says 1000 frames")) << msg;
  }
}

TEST_F(AudioIoTest, TruncatedFlacIsAnError) {
  const std::vector<float> x = sine(440, 22050, 22050);
  const std::string p = path("cut.flac");
  ASSERT_TRUE(write_sndfile(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 22050, x));
  fs::resize_file(p, fs::file_size(p) / 2);
  const std::string msg = audio_error([&] { diffwave::read_audio(p); });
  EXPECT_TRUE(contains(msg, p)) << msg;
  EXPECT_TRUE(contains(msg, "truncated: header says 22050 frames")) << msg;
}

TEST_F(AudioIoTest, WriteIntoMissingDirectoryNamesThePath) {
  const std::vector<float> x(10, 0.0f);
  const std::string p = path("no/such/dir/out.wav");
  const std::string msg = audio_error([&] { diffwave::write_wav(p, x.data(), x.size(), 22050); });
  EXPECT_TRUE(contains(msg, p)) << msg;
  EXPECT_TRUE(
      contains(audio_error([&] { diffwave::write_wav(path("bad_rate.wav"), x.data(), 10, 0); }),
               "bad_rate.wav"));
}

}  // namespace
