// Helpers for diffwave-prep's tests: a temporary folder, generated audio that is distinct per
// seed, running the tool and reading its report.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "audio/audio_io.h"
#include "support/fixtures.h"

namespace diffwave::test {

// A fresh folder under the system temp dir, removed with its content at the end of the scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "diffwave-prep-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

// A tone with a little noise: `seed` makes the content unique (no accidental duplicates).
inline std::vector<float> test_tone(double seconds, int sample_rate, unsigned seed, float amplitude = 0.3f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  const double freq = 150.0 + 37.0 * (seed % 20);
  std::vector<float> x(static_cast<size_t>(seconds * sample_rate));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = amplitude * static_cast<float>(std::sin(2 * M_PI * freq * double(i) / sample_rate)) + noise(rng);
  return x;
}

inline void write_tone(const std::string& path, double seconds, unsigned seed, int sample_rate = 22050) {
  const auto x = test_tone(seconds, sample_rate, seed);
  write_wav(path, x.data(), x.size(), sample_rate);
}

// A 16-bit PCM WAV written byte by byte, so that its header may claim what libsndfile would
// refuse to write (any channel count, any rate); `frames` frames of a quiet ramp.
inline void write_raw_wav(const std::string& path, uint16_t channels, uint32_t rate, uint32_t frames) {
  std::string data;
  for (uint32_t i = 0; i < frames * channels; ++i) {
    const auto v = static_cast<int16_t>(static_cast<int>((i * 37) % 2000) - 1000);
    data.append(reinterpret_cast<const char*>(&v), 2);
  }
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); };
  std::ofstream(path, std::ios::binary)
      << "RIFF" << u32(36 + static_cast<uint32_t>(data.size())) << "WAVEfmt " << u32(16) << u16(1) << u16(channels)
      << u32(rate) << u32(rate * channels * 2u) << u16(static_cast<uint16_t>(channels * 2)) << u16(16) << "data"
      << u32(static_cast<uint32_t>(data.size())) << data;
}

struct ReportEntry {
  std::string status, reason;
};

// OUT/report.tsv keyed by path; fails the test when the header is wrong.
inline std::map<std::string, ReportEntry> read_report(const std::string& path) {
  std::map<std::string, ReportEntry> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "path\tstatus\treason");
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string p, status, reason;
    std::getline(fields, p, '\t');
    std::getline(fields, status, '\t');
    std::getline(fields, reason);
    rows[p] = {status, reason};
  }
  return rows;
}

// Runs diffwave-prep with `args`; with ranks > 0 under `mpirun -np ranks --oversubscribe`.
inline CommandResult run_prep(const std::string& args, int ranks = 0) {
  std::string cmd;
  if (ranks > 0)
    cmd = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np " + std::to_string(ranks) +
          " --oversubscribe ";
  return run_command(cmd + bin_path("diffwave-prep") + " " + args);
}

}  // namespace diffwave::test
