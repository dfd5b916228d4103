// Found by fuzz/fuzz_config.cpp: a YAML key that is not a name (an explicit `? ...` key holding a
// map or list) escaped Config::load as yaml-cpp's TypedBadConversion instead of a ConfigError.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/config.h"
#include "common/error.h"

using namespace diffwave;

TEST(ConfigKeys, KeysThatAreNotNamesAreConfigErrors) {
  for (const std::string text : {"? [a, b]\n: {x: 1}\n", "audio:\n  ? {sample_rate: 1}\n  : 2\n", "{[1]: {}}\n"}) {
    EXPECT_THROW(Config::from_yaml(text, "test"), ConfigError) << text;
    const std::string path = ::testing::TempDir() + "/keys.yaml";
    std::ofstream(path) << text;
    EXPECT_THROW(Config::load(path), ConfigError) << text;
    std::remove(path.c_str());
  }
}
