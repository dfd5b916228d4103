// The README's quick start end to end (demo corpus, prep, the shipped demo model, fine-tuning on 2
// MPI ranks, sampling), with a short training time; the build it uses is this test's own.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/fixtures.h"
#include "support/prep_corpus.h"

using namespace diffwave::test;

namespace {

// The "mean" row of a metrics.tsv, by column name.
std::map<std::string, double> mean_metrics(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> names;
  std::map<std::string, double> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream cells(line);
    std::vector<std::string> row;
    for (std::string cell; std::getline(cells, cell, '\t');) row.push_back(cell);
    if (names.empty()) names = row;
    else if (!row.empty() && row[0] == "mean")
      for (size_t i = 1; i < row.size() && i < names.size(); ++i) out[names[i]] = std::stod(row[i]);
  }
  return out;
}

}  // namespace

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
  // The shipped demo model speaks on utterances it never heard: the outputs follow the speech's
  // envelope (static scores near 0), before and after the short fine-tuning.
  for (const char* run : {"samples_demo", "samples"}) {
    const auto m = mean_metrics(dir / (std::string(run) + "/metrics.tsv"));
    ASSERT_TRUE(m.count("envelope_correlation")) << run << "\n" << r.output;
    EXPECT_GE(m.at("envelope_correlation"), 0.75) << run << "\n" << r.output;
    EXPECT_TRUE(std::filesystem::exists(dir / (std::string(run) + "/demo_0006.png"))) << run;
  }
  EXPECT_NE(r.output.find("demo model   fine-tuned"), std::string::npos) << r.output;
}
