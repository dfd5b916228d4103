// What the fuzz harnesses (fuzz/) found in diffwave-prep's parsers, outside issue 14's list.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "audio/audio_io.h"
#include "common/error.h"
#include "data/manifest.h"
#include "prep/done_record.h"
#include "prep/input_check.h"

using namespace diffwave;

// fuzz_done_record: nlohmann's get<int64_t>() of a JSON float static_casts it, undefined
// behaviour outside int64's range (UBSan reports it in the sanitize tier). Integer fields of the
// manifest and of the done-records must hold integers.
TEST(JsonIntegers, DoneRecordRefusesFloatsWhereIntegersBelong) {
  EXPECT_FALSE(prep::from_json_line(R"({"results":[[618446744073709551615,0,"","",0]],"rounds_done":3})"));
  EXPECT_FALSE(prep::from_json_line(R"({"results":[],"rounds_done":1e30})"));
  EXPECT_FALSE(prep::from_json_line(R"({"results":[[1.5,0,"","",0]],"rounds_done":3})"));
  EXPECT_TRUE(prep::from_json_line(R"({"results":[[1,0,"","",7]],"rounds_done":3})"));
  EXPECT_THROW(prep::decode_rank_results(R"({"results":[],"shards":[],"processed":-1e300})"), Error);
}

TEST(JsonIntegers, ManifestRefusesFloatsWhereIntegersBelong) {
  Manifest m;
  m.audio.win_length = 1024;
  m.audio.f_max = 11025;
  const std::string path = ::testing::TempDir() + "/manifest.json";
  m.save(path);
  EXPECT_NO_THROW(Manifest::load(path));
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = text.find("\"n_fft\": 1024");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 13, "\"n_fft\": 1e30");
  std::ofstream(path) << text;
  EXPECT_THROW(Manifest::load(path), DataError);
}

// fuzz_audio: finite float samples near FLT_MAX pass the non-finite check, then resampling
// overflows to inf and NaN; NaN passed the clamp and reached a float32 shard.
TEST(InputCheck, ResamplingOverflowIsRejectedNotStoredAsNaN) {
  const std::string path = ::testing::TempDir() + "/huge.wav";
  std::vector<float> x(4000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 2 ? -1.0f : 1.0f) * 3.0e38f;
  write_wav(path, x.data(), x.size(), 22054, WavFormat::float32);
  prep::CheckRules rules;
  rules.min_frames = 2;
  for (const bool int16 : {true, false}) {
    rules.int16 = int16;
    const auto r = prep::check_input(path, rules);
    for (float v : r.samples) ASSERT_TRUE(std::isfinite(v) && v >= -1.0f && v <= 1.0f) << v;
    if (r.status == prep::Status::rejected) EXPECT_EQ(prep::reason_code(r.reason), "non-finite") << r.reason;
  }
}
