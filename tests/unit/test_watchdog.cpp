#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <chrono>
#include <filesystem>
#include <thread>

#include "distributed/watchdog.h"

using namespace diffwave;

namespace {
std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("diffwave_watchdog_" + name + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}
}  // namespace

TEST(Watchdog, CompletedCollectivesNeverFire) {
  std::atomic<int> fired{0};
  Watchdog w(fresh_dir("ok"), 0, 1, 0.3, [&](const std::string&) { ++fired; });
  for (int i = 0; i < 5; ++i) {
    Watchdog::Scope s(&w, "allreduce", 64);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(fired.load(), 0);
}

TEST(Watchdog, StallFiresOnceAndNamesTheRankBehind) {
  auto dir = fresh_dir("stall");
  std::atomic<int> fired{0};
  std::string report;
  // Rank 1 reaches collective #1 and stops there (as a SIGSTOPped rank would).
  Watchdog r1(dir, 1, 2, 100.0, [](const std::string&) {});
  r1.begin("allreduce bucket 0", 4096);
  r1.end();
  Watchdog r0(dir, 0, 2, 0.4, [&](const std::string& r) {
    report = r;
    ++fired;
  });
  r0.begin("allreduce bucket 0", 4096);
  r0.end();
  r0.begin("allreduce bucket 1", 1024);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(fired.load(), 1);
  EXPECT_NE(report.find("allreduce bucket 1"), std::string::npos) << report;
  EXPECT_NE(report.find("rank 1 (at #1"), std::string::npos) << report;
  r0.end();
}

TEST(Watchdog, MissingHeartbeatIsReported) {
  Watchdog w(fresh_dir("missing"), 0, 3, 100.0, [](const std::string&) {});
  w.begin("broadcast parameters", 10);
  auto r = w.report();
  EXPECT_NE(r.find("rank 1 (no heartbeat)"), std::string::npos) << r;
  EXPECT_NE(r.find("rank 2 (no heartbeat)"), std::string::npos) << r;
  w.end();
}

TEST(Watchdog, SilentRankIsCalledFrozenEvenAtTheSameOperation) {
  auto dir = fresh_dir("silent");
  // Rank 1 entered the same collective, then froze: its heartbeat stops being refreshed.
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/rank-00001") << "1 pending 1000.000 0.000 allreduce bucket 0\n";
  Watchdog r0(dir, 0, 2, 100.0, [](const std::string&) {});
  r0.begin("allreduce bucket 0", 4096);
  auto report = r0.report();
  EXPECT_NE(report.find("rank 1 (at #1 'allreduce bucket 0', pending, silent for"), std::string::npos) << report;
  EXPECT_NE(report.find("frozen or dead"), std::string::npos) << report;
  r0.end();
}

// diffwave-prep and diffwave-sample ranks do unequal work between collectives: waiting on a rank
// that keeps finishing inputs is not a stall; once no rank has for a whole timeout, it is.
TEST(Watchdog, APeerThatShowsProgressKeepsTheWaiterWaiting) {
  auto dir = fresh_dir("progress");
  Watchdog r1(dir, 1, 2, 100.0, [](const std::string&) {});
  std::atomic<int> fired{0};
  std::string report;
  Watchdog r0(dir, 0, 2, 0.8, [&](const std::string& r) {
    report = r;
    ++fired;
  });
  const auto start = std::chrono::steady_clock::now();
  r0.begin("results gather", 100);
  for (int i = 0; i < 25; ++i) {  // 2.5 s of work items on rank 1, three timeouts' worth
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r1.progress();
  }
  EXPECT_EQ(fired.load(), 0) << report;
  while (fired.load() == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(fired.load(), 1);
  EXPECT_NE(report.find("rank 1 (at #0"), std::string::npos) << report;
  EXPECT_NE(report.find("last work item done"), std::string::npos) << report;
  r0.end();
}

TEST(Watchdog, ABusyPeerCountsAsProgressing) {
  auto dir = fresh_dir("busy");
  Watchdog r1(dir, 1, 2, 100.0, [](const std::string&) {});
  std::atomic<int> fired{0};
  Watchdog r0(dir, 0, 2, 1.5, [&](const std::string&) { ++fired; });
  r0.begin("plan broadcast", 10);
  {
    Watchdog::Busy busy(&r1);  // rank 0's corpus discovery, say
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    EXPECT_EQ(fired.load(), 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  EXPECT_EQ(fired.load(), 1);
  r0.end();
}

TEST(Watchdog, NestedBracketsAreOneCollective) {
  Watchdog w(fresh_dir("nested"), 0, 2, 100.0, [](const std::string&) {});
  w.begin("communicator set-up");
  w.begin("broadcast");  // the NCCL id, inside the set-up
  w.end();
  auto report = w.report();
  EXPECT_NE(report.find("collective #1 'communicator set-up'"), std::string::npos) << report;
  EXPECT_NE(report.find("pending for"), std::string::npos) << report;
  w.end();
  report = w.report();
  EXPECT_EQ(report.find("pending for"), std::string::npos) << report;
  EXPECT_NE(report.find("#1 communicator set-up 0 bytes"), std::string::npos) << report;
}
