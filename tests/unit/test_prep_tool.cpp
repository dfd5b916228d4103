// diffwave-prep end to end, through the built binary: a row for every input, exit codes, the
// no-op rerun, resume after an interruption, --verify, and config changes.
#include <fstream>
#include <set>

#include "data/checksum.h"
#include "data/manifest.h"
#include "data/shard_reader.h"
#include "support/prep_corpus.h"

using namespace diffwave;
using diffwave::test::TempDir;

namespace {

namespace fs = std::filesystem;

// Eight good inputs (one at 16 kHz, one .FLAC-cased name), a copy of one, and one of each kind
// of bad input.
void make_mixed_corpus(const TempDir& dir) {
  fs::create_directories(dir / "in/sub");
  for (unsigned i = 0; i < 8; ++i) test::write_tone(dir / ("in/sub/good" + std::to_string(i) + ".wav"), 1.0 + 0.1 * i, i);
  test::write_tone(dir / "in/rate16k.wav", 1.2, 20, 16000);
  fs::copy_file(dir / "in/sub/good3.wav", dir / "in/zz_copy_of_good3.wav");
  std::ofstream(dir / "in/empty.WAV").close();
  std::ofstream(dir / "in/text.flac") << "not audio at all";
  test::write_tone(dir / "in/short.wav", 0.3, 21);
  std::vector<float> zeros(30000, 0.0f);
  write_wav(dir / "in/silent.wav", zeros.data(), zeros.size(), 22050);
  test::write_tone(dir / "in/cut.wav", 2.0, 22);
  fs::resize_file(dir / "in/cut.wav", fs::file_size(dir / "in/cut.wav") / 2);
  auto nan = test::test_tone(1.0, 22050, 23);
  nan[5] = std::nanf("");
  write_wav(dir / "in/nan.wav", nan.data(), nan.size(), 22050, WavFormat::float32);
}

std::map<std::string, std::string> shard_checksums(const std::string& out) {
  std::map<std::string, std::string> sums;
  for (const auto& e : fs::directory_iterator(out + "/shards")) sums[e.path().filename()] = sha256_file(e.path());
  return sums;
}

}  // namespace

TEST(PrepTool, EveryInputGetsARowAndBadOnesNeverReachAShard) {
  TempDir dir;
  make_mixed_corpus(dir);
  const auto r = test::run_prep("--input " + dir / "in" + " --output " + dir / "out");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = test::read_report(dir / "out/report.tsv");
  ASSERT_EQ(rows.size(), 16u) << r.output;
  const std::map<std::string, std::string> expected_code{
      {"empty.WAV", "empty"},  {"text.flac", "not-audio"}, {"short.wav", "too-short"}, {"silent.wav", "silent"},
      {"cut.wav", "truncated"}, {"nan.wav", "non-finite"},  {"zz_copy_of_good3.wav", "duplicate"}};
  for (const auto& [name, code] : expected_code) {
    const auto& row = rows.at(dir / ("in/" + name));
    EXPECT_EQ(row.status, "rejected") << name;
    EXPECT_EQ(row.reason.substr(0, row.reason.find(':')), code) << name << ": " << row.reason;
  }
  EXPECT_NE(rows.at(dir / "in/zz_copy_of_good3.wav").reason.find("good3.wav"), std::string::npos);
  for (unsigned i = 0; i < 8; ++i) EXPECT_EQ(rows.at(dir / ("in/sub/good" + std::to_string(i) + ".wav")).status, "ok");
  EXPECT_EQ(rows.at(dir / "in/rate16k.wav").status, "ok");

  const auto m = Manifest::load(dir / "out/manifest.json");
  EXPECT_EQ(m.inputs, 16);
  EXPECT_EQ(m.accepted, 9);
  EXPECT_EQ(m.rejected, 7);
  std::set<std::string> ids;
  for (const auto& s : m.shards) {
    ShardReader reader(dir / ("out/" + s.path), m.audio);
    ids.insert(reader.ids().begin(), reader.ids().end());
  }
  EXPECT_EQ(ids, (std::set<std::string>{"rate16k", "sub/good0", "sub/good1", "sub/good2", "sub/good3", "sub/good4",
                                        "sub/good5", "sub/good6", "sub/good7"}));
  EXPECT_NE(r.output.find("rejected"), std::string::npos);  // the summary
  EXPECT_NE(r.output.find("files/s"), std::string::npos);
}

TEST(PrepTool, NothingUsableExitsNonZero) {
  TempDir dir;
  fs::create_directories(dir / "in");
  std::ofstream(dir / "in/a.wav") << "junk";
  const auto r = test::run_prep("--input " + dir / "in" + " --output " + dir / "out");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("no usable input"), std::string::npos) << r.output;
  EXPECT_EQ(test::read_report(dir / "out/report.tsv").at(dir / "in/a.wav").status, "rejected");
  EXPECT_FALSE(fs::exists(dir / "out/manifest.json"));
}

TEST(PrepTool, AbsurdHeadersGetARowNotACrash) {
  TempDir dir;
  fs::create_directories(dir / "in");
  test::write_tone(dir / "in/good.wav", 1.0, 1);
  test::write_raw_wav(dir / "in/many.wav", 1024, 22050, 64);
  test::write_raw_wav(dir / "in/slow.wav", 1, 1, 200);
  const auto r = test::run_prep("--input " + dir / "in" + " --output " + dir / "out");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = test::read_report(dir / "out/report.tsv");
  for (const std::string name : {"many.wav", "slow.wav"}) {
    ASSERT_TRUE(rows.count(dir / ("in/" + name))) << name << "\n" << r.output;
    EXPECT_EQ(rows.at(dir / ("in/" + name)).reason.substr(0, 12), "unsupported:") << name;
  }
  EXPECT_EQ(rows.at(dir / "in/good.wav").status, "ok");
}

TEST(PrepTool, OutputErrorsAndBadInputPathExitNonZero) {
  TempDir dir;
  fs::create_directories(dir / "in");
  test::write_tone(dir / "in/a.wav", 1.0, 1);
  std::ofstream(dir / "file") << "x";
  auto r = test::run_prep("--input " + dir / "in" + " --output " + dir / "file/out");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find(dir / "file/out"), std::string::npos) << r.output;
  r = test::run_prep("--input " + dir / "nowhere" + " --output " + dir / "out");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("nowhere"), std::string::npos) << r.output;
  r = test::run_prep("--input " + dir / "in" + " --output " + dir / "out --set prep.audio_dtype=int8");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("prep.audio_dtype"), std::string::npos) << r.output;
}

TEST(PrepTool, RerunIsANoOpAndResumeRebuildsTheSameShards) {
  TempDir dir;
  make_mixed_corpus(dir);
  // About 1.5 s of audio per shard: several shards from this corpus.
  const std::string args = "--input " + dir / "in" + " --output " + dir / "out" +
                           " --files-per-round 2 --set prep.shard_hours=0.0004";
  ASSERT_EQ(test::run_prep(args).status, 0);
  const auto sums = shard_checksums(dir / "out");
  const auto report = test::read_report(dir / "out/report.tsv");
  ASSERT_GE(sums.size(), 3u);

  auto r = test::run_prep(args);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("up to date"), std::string::npos) << r.output;

  // An interruption: the manifest was never written, the last record line is torn, one
  // finished shard is gone and a half-written temporary remains.
  fs::remove(dir / "out/manifest.json");
  fs::remove(dir / ("out/shards/" + sums.begin()->first));
  std::ofstream(dir / "out/shards/shard-r0000-00099.h5.tmp") << "half";
  std::ofstream(dir / "out/.prep/rank-0000.done.jsonl", std::ios::app) << "{\"rounds_done\": 9, \"resul";
  r = test::run_prep(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resuming"), std::string::npos) << r.output;
  EXPECT_EQ(shard_checksums(dir / "out"), sums);
  const auto again = test::read_report(dir / "out/report.tsv");
  ASSERT_EQ(again.size(), report.size());
  for (const auto& [path, row] : report) {
    EXPECT_EQ(again.at(path).status, row.status) << path;
    EXPECT_EQ(again.at(path).reason, row.reason) << path;
  }
  EXPECT_EQ(test::run_prep("--verify " + dir / "out").status, 0);
}

TEST(PrepTool, VerifyNamesAShardWithAFlippedByte) {
  TempDir dir;
  fs::create_directories(dir / "in");
  for (unsigned i = 0; i < 3; ++i) test::write_tone(dir / ("in/a" + std::to_string(i) + ".wav"), 1.0, i);
  ASSERT_EQ(test::run_prep("--input " + dir / "in" + " --output " + dir / "out").status, 0);
  auto r = test::run_prep("--verify " + dir / "out");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto shard = dir / "out/shards/shard-r0000-00000.h5";
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    const auto middle = static_cast<std::streamoff>(fs::file_size(shard) / 2);
    f.seekg(middle);
    char c = 0;
    f.get(c);
    f.seekp(middle);
    f.put(static_cast<char>(c ^ 0x10));
  }
  r = test::run_prep("--verify " + dir / "out");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("shard-r0000-00000.h5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sha256"), std::string::npos) << r.output;
}

TEST(PrepTool, OtherConfigOverAnOldOutputNeedsForce) {
  TempDir dir;
  fs::create_directories(dir / "in");
  test::write_tone(dir / "in/a.wav", 1.0, 1);
  const std::string args = "--input " + dir / "in" + " --output " + dir / "out";
  ASSERT_EQ(test::run_prep(args).status, 0);
  auto r = test::run_prep(args + " --set prep.audio_dtype=float32");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  r = test::run_prep(args + " --set prep.audio_dtype=float32 --force");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Manifest::load(dir / "out/manifest.json").audio_dtype, "float32");
}

TEST(PrepTool, AShardThatCannotBeWrittenStopsTheRunWithExitCode3) {
  TempDir dir;
  fs::create_directories(dir / "in");
  test::write_tone(dir / "in/a.wav", 1.0, 1);
  // The first shard's temporary name is taken by a folder that --force cannot delete.
  fs::create_directories(dir / "out/shards/shard-r0000-00000.h5.tmp/keep");
  const auto r = test::run_prep("--input " + dir / "in" + " --output " + dir / "out --force");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("rank 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("shard-r0000-00000.h5.tmp"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out/manifest.json"));
}

TEST(PrepTool, KilledMidRunResumesToTheSameOutput) {
  TempDir dir;
  fs::create_directories(dir / "in");
  for (unsigned i = 0; i < 30; ++i) test::write_tone(dir / ("in/u" + std::to_string(100 + i) + ".wav"), 0.8, i);
  const std::string opts = " --files-per-round 1 --set prep.shard_hours=0.0006";
  ASSERT_EQ(test::run_prep("--input " + dir / "in" + " --output " + dir / "ref" + opts).status, 0);

  // SIGKILL once a few shards are recorded (if the run wins the race, the rerun is a no-op).
  const auto out = dir / "out";
  const auto script = dir / "kill.sh";
  std::ofstream(script) << test::bin_path("diffwave-prep") << " --input " << dir / "in" << " --output " << out << opts
                        << " > " << dir / "log" << " 2>&1 &\npid=$!\n"
                        << "for i in $(seq 1000); do [ \"$(wc -l < " << out
                        << "/.prep/rank-0000.done.jsonl 2>/dev/null || echo 0)\" -ge 2 ] && break; sleep 0.005; done\n"
                        << "kill -KILL $pid 2>/dev/null && echo killed; wait $pid\nexit 0\n";
  const auto killed = test::run_command("bash " + script);
  std::printf("[ measured ] %s\n", killed.output.find("killed") != std::string::npos ? "killed mid-run" : "run finished first");
  const auto r = test::run_prep("--input " + dir / "in" + " --output " + out + opts);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(shard_checksums(out), shard_checksums(dir / "ref"));
  const auto a = test::read_report(out + "/report.tsv"), b = test::read_report(dir / "ref/report.tsv");
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(test::run_prep("--verify " + out).status, 0);
}
