// The README's quick start end to end (demo corpus, prep, training on 2 MPI ranks, sampling),
// with a short training time; the build it uses is this test's own.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/fixtures.h"
#include "support/prep_corpus.h"

using namespace diffwave::test;

TEST(QuickStart, RunsEndToEndAndWritesWavs) {
  if (run_command("command -v flite || test \"$(id -u)\" = 0").status != 0)
    GTEST_SKIP() << "the demo corpus needs flite (apt-get install flite), and this user cannot install it";
  TempDir dir;
  const auto build_dir = std::filesystem::path(bin_path("")).parent_path().parent_path().string();
  auto r = run_command("cd " + source_path("") + " && DIFFWAVE_BUILD_DIR=" + build_dir +
                       " ./launch/quickstart.sh --skip-build --run-dir " + dir.str() + " --train-seconds 20");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("quick start done"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("60 inputs accepted"), std::string::npos) << r.output;
  int wavs = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "samples")) wavs += e.path().extension() == ".wav";
  EXPECT_GT(wavs, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "train/checkpoints/latest"));
}
