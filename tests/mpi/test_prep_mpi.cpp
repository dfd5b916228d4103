// diffwave-prep under mpirun: two ranks give the same utterances as one (content, ids, split,
// report), catch duplicates that sit on different ranks, and resume a two-rank run.
#include <fmt/format.h>

#include <chrono>
#include <set>

#include "data/checksum.h"
#include "data/manifest.h"
#include "data/shard_reader.h"
#include "support/prep_corpus.h"

using namespace diffwave;
using diffwave::test::TempDir;

namespace {

namespace fs = std::filesystem;

struct Utterance {
  std::vector<float> audio, mel;
  bool validation;
  bool operator==(const Utterance& o) const { return audio == o.audio && mel == o.mel && validation == o.validation; }
};

std::map<std::string, Utterance> read_all(const std::string& out) {
  const auto m = Manifest::load(out + "/manifest.json");
  std::map<std::string, Utterance> all;
  for (const auto& s : m.shards) {
    ShardReader r(out + "/" + s.path, m.audio);
    for (size_t i = 0; i < r.size(); ++i) all[r.ids()[i]] = {r.audio(i), r.mel(i), r.is_validation(i)};
  }
  return all;
}

std::map<std::string, std::string> report_rows(const std::string& out) {
  std::map<std::string, std::string> rows;
  for (const auto& [path, row] : test::read_report(out + "/report.tsv")) rows[path] = row.status + "|" + row.reason;
  return rows;
}

// 12 distinct inputs, two bad ones and two copies. Sorted, u10 is input 2 (rank 0) and its copy
// the last, 15 (rank 1, a later round); u13 is input 5 (rank 1) and its copy 6 (rank 0, the same
// round of 2 files per rank).
void make_corpus(const TempDir& dir) {
  fs::create_directories(dir / "in");
  for (unsigned i = 0; i < 12; ++i) test::write_tone(dir / ("in/u" + std::to_string(10 + i) + ".wav"), 0.8 + 0.05 * i, i);
  fs::copy_file(dir / "in/u10.wav", dir / "in/u99_copy_of_u10.wav");
  fs::copy_file(dir / "in/u13.wav", dir / "in/u13b_copy_of_u13.wav");
  std::ofstream(dir / "in/bad.wav") << "junk";
  test::write_tone(dir / "in/short.wav", 0.2, 40);
}

class PrepMpi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::run_command("command -v mpirun").status != 0) GTEST_SKIP() << "mpirun not found (install openmpi-bin)";
  }
};

}  // namespace

TEST_F(PrepMpi, TwoRanksEqualOneRank) {
  TempDir dir;
  make_corpus(dir);
  const std::string common = "--input " + dir / "in" + " --files-per-round 2 --set prep.validation_fraction=0.3";
  auto r1 = test::run_prep(common + " --output " + dir / "one");
  ASSERT_EQ(r1.status, 0) << r1.output;
  auto r2 = test::run_prep(common + " --output " + dir / "two", 2);
  ASSERT_EQ(r2.status, 0) << r2.output;

  EXPECT_TRUE(fs::exists(dir / "two/shards/shard-r0000-00000.h5"));
  EXPECT_TRUE(fs::exists(dir / "two/shards/shard-r0001-00000.h5"));
  EXPECT_EQ(report_rows(dir / "one"), report_rows(dir / "two"));
  const auto one = read_all(dir / "one"), two = read_all(dir / "two");
  ASSERT_EQ(one.size(), 12u);
  EXPECT_TRUE(one == two);
  const auto m1 = Manifest::load(dir / "one/manifest.json"), m2 = Manifest::load(dir / "two/manifest.json");
  EXPECT_EQ(m1.validation_ids, m2.validation_ids);
  EXPECT_FALSE(m1.validation_ids.empty());

  const auto rows = test::read_report(dir / "two/report.tsv");
  EXPECT_EQ(rows.at(dir / "in/u99_copy_of_u10.wav").reason.rfind("duplicate: same audio as", 0), 0u);
  EXPECT_EQ(rows.at(dir / "in/u13b_copy_of_u13.wav").reason.rfind("duplicate: same audio as", 0), 0u);

  // The same inputs and config, whatever the rank count: nothing to redo.
  auto again = test::run_prep(common + " --output " + dir / "one", 2);
  EXPECT_EQ(again.status, 0);
  EXPECT_NE(again.output.find("up to date"), std::string::npos) << again.output;
}

TEST_F(PrepMpi, TwoRankRunResumes) {
  TempDir dir;
  make_corpus(dir);
  const std::string args =
      "--input " + dir / "in" + " --output " + dir / "out" + " --files-per-round 1 --set prep.shard_hours=0.0003";
  ASSERT_EQ(test::run_prep(args, 2).status, 0);
  std::map<std::string, std::string> sums;
  for (const auto& e : fs::directory_iterator(dir / "out/shards")) sums[e.path().filename()] = sha256_file(e.path());
  ASSERT_GE(sums.size(), 4u);
  const auto report = report_rows(dir / "out");

  fs::remove(dir / "out/manifest.json");
  fs::remove(dir / "out/shards/shard-r0001-00001.h5");
  const auto r = test::run_prep(args, 2);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resuming"), std::string::npos) << r.output;
  std::map<std::string, std::string> after;
  for (const auto& e : fs::directory_iterator(dir / "out/shards")) after[e.path().filename()] = sha256_file(e.path());
  EXPECT_EQ(after, sums);
  EXPECT_EQ(report_rows(dir / "out"), report);
}

namespace {
// 32 inputs: with 2 ranks and 16 files per round, rank 0 gets the 16 short ones and rank 1 the 16
// long ones, so rank 0 waits seconds in the round's exchange while rank 1 works.
void make_unequal_corpus(const TempDir& dir) {
  fs::create_directories(dir / "in");
  for (unsigned i = 0; i < 32; ++i)
    test::write_tone(dir / fmt::format("in/f{:02}.wav", i), i % 2 ? 120.0 : 0.5, i);
}
std::string unequal_prep(const TempDir& dir, const std::string& out) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 2 --oversubscribe " +
         test::bin_path("diffwave-prep") + " --input " + dir / "in" + " --output " + dir / out +
         " --files-per-round 16 --comm-timeout 1.5";
}
}  // namespace

// Waiting on a rank that keeps finishing inputs is not a stall, however long the wait.
TEST_F(PrepMpi, ARankThatKeepsWorkingIsWaitedFor) {
  TempDir dir;
  make_unequal_corpus(dir);
  const auto start = std::chrono::steady_clock::now();
  auto r = test::run_command(unequal_prep(dir, "out"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_GT(seconds, 2 * 1.5) << "the corpus must keep rank 0 waiting well past --comm-timeout";
  EXPECT_EQ(r.output.find("collective timed out"), std::string::npos) << r.output;
}

// A rank that stops making progress (frozen here; a hung file system read looks the same) ends the
// whole job within the timeout, with the rank named, instead of leaving the others waiting.
TEST_F(PrepMpi, AFrozenRankEndsTheJobNamingIt) {
  TempDir dir;
  make_unequal_corpus(dir);
  const std::string out = dir / "out";
  const auto script = dir / "run.sh";
  std::ofstream(script)
      << "(" << unequal_prep(dir, "out") << " > " << out << ".log 2>&1; echo $? > " << out << ".rc) &\n"
      << "for i in $(seq 200); do [ -f " << out << "/.prep/heartbeat/rank-00001 ] && break; sleep 0.05; done\n"
      << "for p in $(pgrep -f 'diffwave-prep --input " << dir / "in" << "'); do\n"
      << "  tr '\\0' '\\n' < /proc/$p/environ | grep -qx OMPI_COMM_WORLD_RANK=1 && kill -STOP $p && echo stopped $p; done\n"
      << "for i in $(seq 300); do [ -f " << out << ".rc ] && break; sleep 0.1; done\n"
      << "[ -f " << out << ".rc ] || echo JOB STILL RUNNING\n"
      << "pkill -KILL -f 'diffwave-prep --input " << dir / "in" << "'\n"
      << "cat " << out << ".log; exit $(cat " << out << ".rc 2>/dev/null || echo 99)\n";
  auto r = test::run_command("bash " + script);
  EXPECT_NE(r.output.find("stopped "), std::string::npos) << r.output;
  EXPECT_EQ(r.status, 70) << r.output;
  EXPECT_EQ(r.output.find("JOB STILL RUNNING"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("diffwave-prep: collective timed out"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stalled or behind: rank 1"), std::string::npos) << r.output;
}
