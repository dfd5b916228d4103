// The mel-cepstral distortion against SPTK's own programs (frame | window | mcep, run by
// tests/reference/check_sptk.py) on real speech and a degraded copy, and its basic properties.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "audio/audio_io.h"
#include "audio/mel_cepstrum.h"
#include "support/fixtures.h"

using namespace diffwave;
using namespace diffwave::test;

namespace {

std::string temp_f32(const std::string& tag, const std::vector<float>& x) {
  const auto dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  const auto path = dir + "/mcep_" + tag + "_" + std::to_string(::getpid()) + ".f32";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(x.data()), long(x.size() * 4));
  return path;
}

std::vector<float> with_noise(const std::vector<float>& x, double gain, double noise, int delay, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = float(gain * x[(i + x.size() - size_t(delay)) % x.size()] + noise * normal(rng));
  return y;
}

}  // namespace

TEST(MelCepstrum, MatchesSptkPrograms) {
  if (const auto why = reference_python_lacks("numpy"); !why.empty()) GTEST_SKIP() << why;
  const auto ref = read_audio(source_path("tests/fixtures/speech_22050.wav")).samples;
  const auto out = with_noise(ref, 0.7, 0.01, 40, 3);
  const auto o = mel_cepstrum_options(22050, 1024, 256);
  ASSERT_EQ(o.alpha, 0.45);
  const auto ref_path = temp_f32("ref", ref), out_path = temp_f32("out", out);
  const auto r = run_command("'" + reference_python() + "' '" + source_path("tests/reference/check_sptk.py") +
                             "' mcep '" + ref_path + "' '" + out_path + "' 1024 256 34 0.45 1e-8 2>&1");
  std::remove(ref_path.c_str());
  std::remove(out_path.c_str());
  ASSERT_EQ(r.status, 0) << "SPTK's programs (Debian package sptk) must be installed: " << r.output;
  const auto theirs = nlohmann::json::parse(r.output);

  const auto a = mel_cepstra(ref.data(), int64_t(ref.size()), o), b = mel_cepstra(out.data(), int64_t(out.size()), o);
  ASSERT_EQ(a.size(), theirs["ref"].size());
  ASSERT_EQ(b.size(), theirs["out"].size());
  ASSERT_EQ(a.size(), (ref.size() + 255) / 256);
  // SPTK's pipeline passes float32 between programs; we stay in double throughout.
  double worst = 0;
  for (size_t t = 0; t < a.size(); ++t)
    for (size_t d = 0; d <= 34; ++d) {
      worst = std::max(worst, std::abs(a[t][d] - theirs["ref"][t][d].get<double>()));
      worst = std::max(worst, std::abs(b[t][d] - theirs["out"][t][d].get<double>()));
    }
  const double ours = mel_cepstral_distortion(a, b), reference = theirs["mcd_db"].get<double>();
  std::printf("%zu frames; worst mel-cepstral coefficient difference %.3g; MCD ours %.8f dB, SPTK %.8f dB "
              "(relative difference %.3g)\n",
              a.size(), worst, ours, reference, std::abs(ours - reference) / reference);
  // Measured: 6.0e-7 and 2.9e-9 (float32 rounding between SPTK's programs).
  EXPECT_LT(worst, 1e-5);
  EXPECT_NEAR(ours, reference, 1e-7 * reference);
  EXPECT_GT(ours, 1.0);  // the degraded copy differs
}

TEST(MelCepstrum, ZeroForIdenticalAudioAndGrowsWithNoise) {
  const auto ref = read_audio(source_path("tests/fixtures/speech_22050.wav")).samples;
  const auto o = mel_cepstrum_options(22050, 1024, 256);
  const int64_t n = int64_t(ref.size());
  EXPECT_EQ(mel_cepstral_distortion(ref.data(), ref.data(), n, o), 0.0);
  double previous = 0;
  for (double noise : {0.001, 0.01, 0.1}) {
    const auto out = with_noise(ref, 1.0, noise, 0, 5);
    const double mcd = mel_cepstral_distortion(ref.data(), out.data(), n, o);
    std::printf("noise %.3f: MCD %.3f dB\n", noise, mcd);
    EXPECT_GT(mcd, previous + 0.5);
    previous = mcd;
  }
}

TEST(MelCepstrum, SilenceIsFlooredNotFatal) {
  // A zero periodogram makes SPTK's mcep end the process; the floor keeps it flat instead.
  const std::vector<float> silence(22050, 0.0f);
  const auto o = mel_cepstrum_options(22050, 1024, 256);
  const auto c = mel_cepstra(silence.data(), int64_t(silence.size()), o);
  ASSERT_EQ(c.size(), 87u);
  EXPECT_NEAR(c[10][0], 0.5 * std::log(1e-8), 1e-6);  // a flat spectrum at the floor: gain only
  for (size_t d = 1; d < c[10].size(); ++d) EXPECT_NEAR(c[10][d], 0.0, 1e-9);
  EXPECT_EQ(mel_cepstral_distortion(silence.data(), silence.data(), int64_t(silence.size()), o), 0.0);
}

TEST(MelCepstrum, AlphaByRateAndFrameFromConfig) {
  EXPECT_EQ(mel_cepstrum_alpha(16000), 0.42);
  EXPECT_EQ(mel_cepstrum_alpha(22050), 0.45);
  EXPECT_EQ(mel_cepstrum_alpha(24000), 0.46);
  EXPECT_EQ(mel_cepstrum_alpha(44100), 0.53);
  EXPECT_EQ(mel_cepstrum_alpha(48000), 0.55);
  EXPECT_EQ(mel_cepstrum_alpha(8000), 0.42);   // nearest: 16 kHz
  EXPECT_EQ(mel_cepstrum_alpha(32000), 0.46);  // nearest: 24 kHz
  EXPECT_EQ(mel_cepstrum_options(16000, 1000, 200).frame_length, 1024);
  EXPECT_EQ(mel_cepstrum_options(16000, 1000, 200).hop, 200);
}
