// Files named from ids taken from input land inside the output folder, never over an input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/output_paths.h"
#include "support/prep_corpus.h"

namespace fs = std::filesystem;
using namespace diffwave;
using diffwave::test::TempDir;

TEST(OutputPaths, IdsAreMirroredBelowTheFolder) {
  EXPECT_EQ(output_relative_path("spk1/utt3"), "spk1/utt3");
  EXPECT_EQ(output_relative_path("/data/lj/wavs/LJ001-0001"), "data/lj/wavs/LJ001-0001");
  EXPECT_EQ(output_relative_path("../../etc/passwd"), "__/__/etc/passwd");
  EXPECT_EQ(output_relative_path("./a//b/./c"), "a/b/c");
  EXPECT_EQ(output_relative_path("a/../b"), "a/__/b");
  for (const std::string bad : {"", "/", ".", "./", "//."}) {
    try {
      output_relative_path(bad);
      FAIL() << "'" << bad << "' accepted";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("id '" + bad + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(OutputPaths, SharedFilesAndInputsAreRefusedNamingTheIds) {
  TempDir dir;
  EXPECT_EQ(output_paths(dir.str(), {"a", "/x/b"}, ".wav", {}),
            (std::vector<std::string>{dir / "a.wav", dir / "x/b.wav"}));
  try {
    output_paths(dir.str(), {"../x", "__/x"}, ".wav", {});
    FAIL() << "two ids written to one file";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("'../x' and '__/x'"), std::string::npos) << e.what();
  }
  // An input reached under another name (a symbolic link in the output folder) is still the input.
  fs::create_directories(dir / "in");
  std::ofstream(dir / "in/u.wav") << "input";
  fs::create_directories(dir / "out");
  fs::create_directory_symlink(dir / "in", dir / "out/spk");
  try {
    output_paths(dir / "out", {"spk/u"}, ".wav", {dir / "in/u.wav"});
    FAIL() << "an output over an input";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("id 'spk/u'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir / "in/u.wav"), std::string::npos) << e.what();
  }
}
