#include <gtest/gtest.h>

#include "support/fixtures.h"

using namespace diffwave::test;

TEST(TrainCli, DryRunReportsBaseParameterCount) {
  auto r = run_command(bin_path("diffwave-train") + " --config " + source_path("configs/base.yaml") + " --dry-run");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("parameters: 2,619,971"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("residual_channels: 64"), std::string::npos) << r.output;
}

TEST(TrainCli, DryRunAppliesOverrides) {
  auto r = run_command(bin_path("diffwave-train") + " --config " + source_path("configs/base.yaml") +
                       " --set model.residual_channels=128 --dry-run");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("parameters: 6,885,315"), std::string::npos) << r.output;
}

TEST(TrainCli, BadKeyFailsNamingIt) {
  auto r = run_command(bin_path("diffwave-train") + " --config " + source_path("configs/base.yaml") +
                       " --set audio.hop_samples=300 --set audio.n_fft=2048 --dry-run");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("model.upsample_factors"), std::string::npos) << r.output;
  r = run_command(bin_path("diffwave-train") + " --config /nonexistent.yaml --dry-run");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("nonexistent.yaml"), std::string::npos) << r.output;
}

TEST(TrainCli, CudaGraphsRefuseGradientAccumulation) {
  auto r = run_command(bin_path("diffwave-train") + " --config " + source_path("configs/tiny.yaml") +
                       " --set train.cuda_graphs=true --set train.grad_accumulation=2 --dry-run");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("train.cuda_graphs"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("grad_accumulation = 1"), std::string::npos) << r.output;
}
