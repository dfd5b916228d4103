// The vocoder metrics against reference implementations: auraloss's multi-resolution STFT loss
// and numpy's Pearson correlation (tests/reference/check_metrics.py), on real speech and a
// degraded copy of it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "audio/audio_io.h"
#include "audio/mel.h"
#include "common/config.h"
#include "audio/vocoder_metrics.h"
#include "support/fixtures.h"

using namespace diffwave;
using namespace diffwave::test;

namespace {
void write_f32(const std::string& path, const torch::Tensor& x) {
  const auto c = x.contiguous().to(torch::kFloat);
  std::ofstream(path, std::ios::binary).write(static_cast<const char*>(c.data_ptr()), c.numel() * 4);
}
torch::Tensor speech() {
  const auto audio = read_audio(source_path("tests/fixtures/speech_22050.wav"));
  return torch::from_blob(const_cast<float*>(audio.samples.data()), {static_cast<int64_t>(audio.samples.size())},
                          torch::kFloat)
      .clone();
}
}  // namespace

TEST(VocoderMetrics, MatchReferenceImplementations) {
  if (const auto why = reference_python_lacks("auraloss, numpy, torch"); !why.empty()) GTEST_SKIP() << why;
  const auto ref = speech();
  torch::manual_seed(3);
  // A degraded copy: quieter, a little noise, and a short delay, as a weak vocoder might give.
  const auto out = 0.7 * torch::roll(ref, 40) + 0.01 * torch::randn_like(ref);
  const auto dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  const auto ref_path = dir + "/vm_ref_" + std::to_string(::getpid()) + ".f32";
  const auto out_path = dir + "/vm_out_" + std::to_string(::getpid()) + ".f32";
  write_f32(ref_path, ref);
  write_f32(out_path, out);
  const auto r = run_command("{ '" + reference_python() + "' '" + source_path("tests/reference/check_metrics.py") +
                             "' '" + ref_path + "' '" + out_path + "' 2>/dev/null; }");
  std::remove(ref_path.c_str());
  std::remove(out_path.c_str());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto theirs = nlohmann::json::parse(r.output);

  Config config;
  const auto m = vocoder_metrics(ref, out, MelSpectrogram(config.audio));
  std::printf("ours: MR-STFT %.6f (SC %.6f + log-mag %.6f), envelope correlation %.6f\n", m.mr_stft.total(),
              m.mr_stft.spectral_convergence, m.mr_stft.log_magnitude_l1, m.envelope_correlation);
  std::printf("reference: %s\n", r.output.c_str());
  EXPECT_NEAR(m.mr_stft.total(), theirs["mr_stft"].get<double>(), 1e-5 * theirs["mr_stft"].get<double>());
  EXPECT_NEAR(m.mr_stft.spectral_convergence, theirs["spectral_convergence"].get<double>(), 1e-5);
  EXPECT_NEAR(m.mr_stft.log_magnitude_l1, theirs["log_magnitude_l1"].get<double>(), 1e-5);
  EXPECT_NEAR(m.envelope_correlation, theirs["envelope_correlation"].get<double>(), 1e-9);
  EXPECT_GT(m.envelope_correlation, 0.9);  // a degraded copy still follows the envelope
}

TEST(VocoderMetrics, SeparateStaticFromSpeech) {
  const auto ref = speech();
  torch::manual_seed(4);
  const auto noise = 0.1 * torch::randn_like(ref);
  Config config;
  const MelSpectrogram mel(config.audio);
  const auto same = vocoder_metrics(ref, ref, mel), staticky = vocoder_metrics(ref, noise, mel);
  EXPECT_NEAR(same.mr_stft.total(), 0.0, 1e-9);
  EXPECT_NEAR(same.log_mel_l1_db, 0.0, 1e-9);
  EXPECT_NEAR(same.envelope_correlation, 1.0, 1e-12);
  EXPECT_LT(std::abs(staticky.envelope_correlation), 0.3);
  EXPECT_GT(staticky.mr_stft.total(), 1.0);
  EXPECT_EQ(same.mcd_db, 0.0);
  EXPECT_EQ(same.log_f0_rmse_cents, 0.0);
  EXPECT_EQ(same.vuv_error, 0.0);
  EXPECT_GT(staticky.mcd_db, 5.0);
  EXPECT_GT(staticky.vuv_error, 0.2);  // the speech's voiced frames against unvoiced noise
  // The values round-trip through metrics.tsv's columns.
  const auto back = VocoderMetrics::from_values(staticky.values()).values(), values = staticky.values();
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_TRUE(back[i] == values[i] || (std::isnan(back[i]) && std::isnan(values[i]))) << VocoderMetrics::names()[i];
  EXPECT_TRUE(std::isnan(staticky.log_f0_rmse_cents));  // noise has no voiced frame to compare F0 on
  EXPECT_EQ(VocoderMetrics::names().size(), staticky.values().size());
}

TEST(VocoderMetrics, MeanOverFilesSkipsNaN) {
  const double nan = std::nan("");
  const auto mean = mean_over_files({{1.0, nan, 3.0}, {3.0, 20.0, nan}, {5.0, 40.0, nan}});
  ASSERT_EQ(mean.size(), 3u);
  EXPECT_EQ(mean[0], 3.0);
  EXPECT_EQ(mean[1], 30.0);
  EXPECT_EQ(mean[2], 3.0);
  EXPECT_TRUE(std::isnan(mean_over_files({{nan}, {nan}})[0]));
  EXPECT_TRUE(mean_over_files({}).empty());
}
