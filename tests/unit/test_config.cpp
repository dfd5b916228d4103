#include <gtest/gtest.h>

#include <fstream>

#include "common/config.h"
#include "common/error.h"
#include "support/fixtures.h"

using diffwave::Config;
using diffwave::ConfigError;
using diffwave::test::source_path;

namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  auto path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

// The message of the ConfigError that `fn` throws (fails the test when none is thrown).
template <class F>
std::string config_error(F fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return "";
}

}  // namespace

TEST(Config, BaseYamlEqualsLmntDefaults) {
  auto c = Config::load(source_path("configs/base.yaml"));
  c.validate();
  EXPECT_EQ(c.audio.sample_rate, 22050);
  EXPECT_EQ(c.audio.resolved_win_length(), 1024);
  EXPECT_DOUBLE_EQ(c.audio.resolved_f_max(), 11025.0);
  EXPECT_EQ(c.model.residual_channels, 64);
  EXPECT_EQ(c.model.residual_layers, 30);
  ASSERT_EQ(c.diffusion.noise_schedule.betas.size(), 50u);
  EXPECT_DOUBLE_EQ(c.diffusion.noise_schedule.betas.front(), 1e-4);
  EXPECT_DOUBLE_EQ(c.diffusion.noise_schedule.betas.back(), 0.05);
  EXPECT_EQ(c.train.batch_size, 16);
  EXPECT_DOUBLE_EQ(c.train.learning_rate, 2e-4);
  EXPECT_EQ(c.origin_of("model.residual_layers"), source_path("configs/base.yaml"));
  // The built-in defaults are the same values.
  EXPECT_EQ(Config::load("").to_yaml(), c.to_yaml());
}

TEST(Config, EveryShippedConfigValidates) {
  for (auto name : {"base", "large", "unconditional", "tiny"}) {
    SCOPED_TRACE(name);
    auto c = Config::load(source_path(std::string("configs/") + name + ".yaml"));
    EXPECT_NO_THROW(c.validate());
  }
}

TEST(Config, LinspaceMatchesNumpy) {
  // numpy.linspace(1e-4, 0.05, 50)[1] and [25], printed by numpy with repr.
  auto s = diffwave::BetaSchedule::make_linear(1e-4, 0.05, 50);
  EXPECT_EQ(s.betas[1], 0.0011183673469387756);
  EXPECT_EQ(s.betas[25], 0.025559183673469387);
}

TEST(Config, SetOverridesFileAndIsRecorded) {
  auto c = Config::load(source_path("configs/base.yaml"),
                        {"train.batch_size=32", "model.upsample_factors=[15, 20]", "audio.hop_samples=300", "audio.n_fft=2048"});
  EXPECT_EQ(c.train.batch_size, 32);
  EXPECT_EQ(c.model.upsample_factors, (std::vector<int>{15, 20}));
  EXPECT_EQ(c.origin_of("train.batch_size"), "--set");
  EXPECT_NO_THROW(c.validate());
}

TEST(Config, UnknownKeyNamesKeyAndFile) {
  auto path = write_temp("typo.yaml", "train:\n  batch_sise: 8\n");
  auto msg = config_error([&] { Config::load(path); });
  EXPECT_NE(msg.find("batch_sise"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  msg = config_error([&] { Config::load("", {"train.nope=1"}); });
  EXPECT_NE(msg.find("train.nope"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--set"), std::string::npos) << msg;
  msg = config_error([&] { Config::load("", {"no_equals_sign"}); });
  EXPECT_NE(msg.find("key=value"), std::string::npos) << msg;
}

// train.audio_interval became train.quality_interval: checkpoints written before store the old
// name in their config, and must still load for sampling, export and resuming.
TEST(Config, RenamedKeyLoadsUnderItsNewName) {
  const auto c = Config::from_yaml("train:\n  audio_interval: 123\n", "old checkpoint");
  EXPECT_EQ(c.train.quality_interval, 123);
  EXPECT_EQ(c.to_yaml().find("audio_interval"), std::string::npos);
  auto msg = config_error([&] { Config::from_yaml("train:\n  audio_interval: 1\n  quality_interval: 2\n", "both"); });
  EXPECT_NE(msg.find("train.audio_interval"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesKeyFileAndValue) {
  auto path = write_temp("type.yaml", "model:\n  residual_channels: lots\n");
  auto msg = config_error([&] { Config::load(path); });
  EXPECT_NE(msg.find("model.residual_channels"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("lots"), std::string::npos) << msg;
  msg = config_error([&] { Config::load("", {"train.batch_size=2.5"}); });
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
  msg = config_error([&] { Config::load("", {"diffusion.noise_schedule={linear: {start: 1}}"}); });
  EXPECT_NE(msg.find("diffusion.noise_schedule"), std::string::npos) << msg;
}

TEST(Config, ImpossibleValuesAreRejectedWithTheirOrigin) {
  auto hop = config_error([] { Config::load("", {"audio.hop_samples=300", "audio.n_fft=2048"}).validate(); });
  EXPECT_NE(hop.find("model.upsample_factors"), std::string::npos) << hop;
  EXPECT_NE(hop.find("300"), std::string::npos) << hop;
  auto batch = config_error([] { Config::load("", {"train.batch_size=10"}).validate(3); });
  EXPECT_NE(batch.find("train.batch_size"), std::string::npos) << batch;
  EXPECT_NE(batch.find("--set"), std::string::npos) << batch;
  auto win = config_error([] { Config::load("", {"audio.hop_samples=300"}).validate(); });
  EXPECT_NE(win.find("audio.win_length = 1200"), std::string::npos) << win;
  auto fmax = config_error([] { Config::load("", {"audio.f_max=20000"}).validate(); });
  EXPECT_NE(fmax.find("audio.f_max"), std::string::npos) << fmax;
  auto beta = config_error([] { Config::load("", {"diffusion.inference_noise_schedule=[0.1, 1.5]"}).validate(); });
  EXPECT_NE(beta.find("step 1"), std::string::npos) << beta;
  auto loss = config_error([] { Config::load("", {"diffusion.loss=huber"}).validate(); });
  EXPECT_NE(loss.find("huber"), std::string::npos) << loss;
}

TEST(Config, FastScheduleOutsideTrainingRangeNamesTheStep) {
  // The paper's LARGE fast schedule (last beta 0.7) falls outside T = 50 training (lmnt truncates).
  auto msg = config_error([] {
    Config::load("", {"diffusion.inference_noise_schedule=[1.0e-4, 1.0e-3, 1.0e-2, 0.05, 0.2, 0.7]"}).validate();
  });
  EXPECT_NE(msg.find("inference step 5"), std::string::npos) << msg;
  EXPECT_NO_THROW(Config::load(source_path("configs/large.yaml")).validate());
}

TEST(Config, YamlRoundTripIsExact) {
  auto c = Config::load(source_path("configs/large.yaml"), {"train.learning_rate=3.3e-4", "audio.f_max=8000.5"});
  auto back = Config::from_yaml(c.to_yaml(), "checkpoint");
  EXPECT_EQ(back.to_yaml(), c.to_yaml());
  EXPECT_EQ(back.train.learning_rate, c.train.learning_rate);
  EXPECT_EQ(back.diffusion.noise_schedule.betas, c.diffusion.noise_schedule.betas);
  EXPECT_EQ(*back.audio.f_max, 8000.5);
}

TEST(Config, MissingFileIsNamed) {
  auto msg = config_error([] { Config::load("/nonexistent/x.yaml"); });
  EXPECT_NE(msg.find("/nonexistent/x.yaml"), std::string::npos) << msg;
}

// Values no run can use, which used to pass: each is refused naming its key.
TEST(Config, NonFiniteAndOutOfRangeValuesAreRejectedNamingTheKey) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"audio.f_min=.nan"}, "audio.f_min"},
      {{"audio.f_max=.inf"}, "audio.f_max"},
      {{"train.learning_rate=.inf"}, "train.learning_rate"},
      {{"train.max_grad_norm=.nan"}, "train.max_grad_norm"},
      {{"train.comm_timeout=.inf"}, "train.comm_timeout"},
      {{"diffusion.noise_schedule={linear: {start: .nan, end: 0.05, steps: 50}}"}, "diffusion.noise_schedule"},
      {{"train.bucket_cap_mb=1e30"}, "train.bucket_cap_mb"},
      {{"model.dilation_cycle_length=64"}, "model.dilation_cycle_length"},
      // 1444189401 * 1596634768 * 8 = 2^64 + 128: the product wraps to exactly audio.hop_samples.
      {{"model.upsample_factors=[1444189401, 1596634768, 8]", "audio.hop_samples=128"}, "model.upsample_factors"},
  };
  for (const auto& [overrides_, key] : cases) {
    const auto& overrides = overrides_;  // clang 14 lambdas cannot capture a structured binding
    const auto msg = config_error([&] { Config::load("", overrides).validate(); });
    EXPECT_NE(msg.find(key), std::string::npos) << overrides[0] << ": " << msg;
  }
  EXPECT_NO_THROW(Config::load("", {"model.dilation_cycle_length=30", "train.bucket_cap_mb=4096"}).validate());
}
