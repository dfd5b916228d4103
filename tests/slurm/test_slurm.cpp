// The real cluster/*.sbatch scripts under a real Slurm (Debian's 22.05) on this one machine:
// tests/slurm/slurm_cluster.sh brings up munged, slurmctld and slurmd on loopback in a temporary
// folder (once per test process) and tears them down after. Each test submits a script with
// sbatch, steered by environment variables and command-line options as a user would, and polls
// `scontrol show job` and the job's output file (accounting is off, so there is no sacct).
// Where no cluster can be brought up (not root and no Slurm installed) every test skips with the
// harness's reason.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include "support/prep_corpus.h"
#include "checkpoint/checkpoint_store.h"
#include "train/signals.h"

extern char** environ;

namespace fs = std::filesystem;
using namespace diffwave;
using namespace diffwave::test;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr int kUtterances = 16;
const char* kQuiet = " --log-interval 1 --set train.validation_interval=0 --set train.quality_interval=0";

class Slurm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A test run inside someone's Slurm job must not talk to that cluster: drop its variables.
    std::vector<std::string> drop;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      for (const char* prefix : {"SLURM_", "SBATCH_", "SRUN_", "SALLOC_"})
        if (kv.rfind(prefix, 0) == 0) drop.push_back(kv.substr(0, kv.find('=')));
    }
    for (const auto& name : drop) unsetenv(name.c_str());

    work_ = new TempDir();
    const auto start = Clock::now();
    auto up = run_command("bash " + source_path("tests/slurm/slurm_cluster.sh") + " up " + *work_ / "cluster");
    if (up.status == 77) {
      skip_ = new std::string(up.output);
      return;
    }
    if (up.status != 0) {
      failure_ = new std::string("tests/slurm/slurm_cluster.sh up failed:\n" + up.output);
      return;
    }
    setenv("SLURM_CONF", (*work_ / "cluster/slurm.conf").c_str(), 1);
    std::cout << "[ cluster  ] up in " << seconds_since(start) << " s\n";

    fs::create_directories(*work_ / "wavs");
    for (unsigned i = 0; i < kUtterances; ++i)
      write_tone(*work_ / ("wavs/utt" + std::to_string(100 + i) + ".wav"), 0.4 + 0.02 * i, i);
    auto prep = run_prep(prep_args(*work_ / "prep"));
    if (prep.status != 0) failure_ = new std::string("diffwave-prep failed:\n" + prep.output);
  }

  static void TearDownTestSuite() {
    if (work_ && !skip_) {
      const auto start = Clock::now();
      auto down = run_command("bash " + source_path("tests/slurm/slurm_cluster.sh") + " down " + *work_ / "cluster");
      std::cout << "[ cluster  ] down in " << seconds_since(start) << " s (exit " << down.status << ")\n";
      if (down.status != 0) std::cout << down.output;
    }
    delete work_;
    delete skip_;
    delete failure_;
    work_ = nullptr;
    skip_ = failure_ = nullptr;
  }

  void SetUp() override {
    start_ = Clock::now();
    if (skip_) GTEST_SKIP() << *skip_;
    ASSERT_FALSE(failure_) << *failure_;
  }
  void TearDown() override {
    if (!skip_ && !failure_) std::cout << "[ timing   ] " << seconds_since(start_) << " s\n";
  }

  static std::string prep_args(const std::string& out) {
    return "--input " + *work_ / "wavs" + " --output " + out + " --config " + source_path("configs/tiny.yaml") +
           " --set prep.validation_fraction=0.15";
  }
  static std::string mpirun(int ranks) {
    return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np " + std::to_string(ranks) +
           " --oversubscribe --bind-to none ";
  }
  static std::string bin_dir() { return fs::path(bin_path("diffwave-train")).parent_path().string(); }

  // sbatch from the repository root with `env` (VAR=value ...) in the job's environment; returns
  // the job id (fails the test and returns "" when sbatch refuses).
  static std::string sbatch(const std::string& env, const std::string& options, const std::string& script) {
    auto r = run_command("cd " + source_path("") + " && env " + env + " DIFFWAVE_BIN=" + bin_dir() +
                         " sbatch --parsable " + options + " " + script);
    EXPECT_EQ(r.status, 0) << r.output;
    if (r.status != 0) return "";
    auto id = r.output.substr(0, r.output.find_first_of(";\n"));
    return id;
  }
  // train.sbatch on 2 CPU tasks of the one node, in partition `low`, output in OUT_<name>.
  std::string submit_train(const std::string& run, const std::string& extra, const std::string& options = "") {
    const std::string env = "DEVICE=cpu DATA=" + *work_ / "prep" + " RUN_DIR=" + run + " CONFIG=" +
                            source_path("configs/tiny.yaml") + " EXTRA='" + extra + kQuiet + "'";
    return sbatch(env, "--partition=low --nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --output=" + run +
                           ".out " + options, "cluster/train.sbatch");
  }

  // `scontrol show job -o ID` as key -> value (empty once the job is forgotten).
  static std::map<std::string, std::string> job(const std::string& id) {
    std::map<std::string, std::string> fields;
    auto r = run_command("scontrol show job -o " + id);
    if (r.status != 0) return fields;
    std::istringstream in(r.output);
    std::string token;
    while (in >> token) {
      const auto eq = token.find('=');
      if (eq != std::string::npos) fields[token.substr(0, eq)] = token.substr(eq + 1);
    }
    return fields;
  }
  static std::string state(const std::string& id) { return job(id)["JobState"]; }
  static bool finished(const std::string& s) {
    for (const char* f : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
                          "BOOT_FAIL", "DEADLINE"})
      if (s == f) return true;
    return false;
  }
  // Polls `done` every 0.2 s for at most `limit` seconds.
  static bool wait_until(const std::function<bool()>& done, double limit) {
    const auto start = Clock::now();
    while (seconds_since(start) < limit) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return done();
  }
  // Waits for the job to reach a final state (a requeued job passes through PENDING again).
  static std::map<std::string, std::string> wait_finished(const std::string& id, double limit) {
    wait_until([&] { return finished(state(id)); }, limit);
    return job(id);
  }
  static std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static int count_lines(const std::string& path, const std::string& prefix) {
    std::istringstream in(read_file(path));
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.rfind(prefix, 0) == 0;
    return n;
  }
  static int count(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  }
  // Waits until the job's output shows `steps` progress lines (the step is training).
  static bool wait_steps(const std::string& out, int steps, double limit = 60) {
    return wait_until([&] { return count_lines(out, "step ") >= steps; }, limit);
  }
  static int64_t latest_step(const std::string& run) {
    auto path = CheckpointStore::resolve(run);
    EXPECT_TRUE(path) << "no checkpoint in " << run;
    if (!path) return -1;
    return std::stoll(read_checkpoint(*path).meta("step"));  // read_checkpoint checks the CRC
  }
  // Processes of this run's trainer still alive on the machine (none may outlive a job).
  static std::string trainers(const std::string& run) {
    return run_command("pgrep -af '[d]iffwave-train.*--run-dir " + run + " ' || true").output;
  }
  std::string cmp(const std::string& a, const std::string& b) {
    auto r = run_command("cmp " + a + " " + b);
    return r.status == 0 ? "" : r.output + " (exit " + std::to_string(r.status) + ")";
  }

  static TempDir* work_;
  static std::string* skip_;
  static std::string* failure_;
  Clock::time_point start_;
};
TempDir* Slurm::work_ = nullptr;
std::string* Slurm::skip_ = nullptr;
std::string* Slurm::failure_ = nullptr;

std::string checkpoint_file(const std::string& run, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoints/step-%09lld.safetensors", static_cast<long long>(step));
  return run + "/" + name;
}

}  // namespace

TEST_F(Slurm, PrepAsAnMpiJobWritesTheSameShardsAsADirectRun) {
  const auto direct = *work_ / "prep-direct", batch = *work_ / "prep-batch";
  auto d = run_prep(prep_args(direct), 2);
  ASSERT_EQ(d.status, 0) << d.output;
  const auto id = sbatch("INPUT=" + *work_ / "wavs" + " OUTPUT=" + batch + " CONFIG=" + source_path("configs/tiny.yaml") +
                             " EXTRA='--set prep.validation_fraction=0.15'",
                         "--ntasks=2 --cpus-per-task=1 --output=" + batch + ".out", "cluster/prep.sbatch");
  ASSERT_FALSE(id.empty());
  auto j = wait_finished(id, 90);
  const auto log = read_file(batch + ".out");
  ASSERT_EQ(j["JobState"], "COMPLETED") << log;
  EXPECT_EQ(j["ExitCode"], "0:0");
  // Both tasks joined one MPI world through srun --mpi=pmix (not two singletons).
  EXPECT_NE(log.find("on 2 rank(s)"), std::string::npos) << log;
  // Shards are byte-identical for the same inputs and rank count (names carry the rank).
  auto sums = [](const std::string& out) {
    return run_command("cd " + out + " && sha256sum shards/*.h5").output;
  };
  const auto a = sums(direct), b = sums(batch);
  EXPECT_EQ(count(a, "shards/"), count(b, "shards/"));
  EXPECT_GE(count(a, "shard-r0001"), 1) << a;
  EXPECT_EQ(a, b);
  auto verify = run_command(bin_path("diffwave-prep") + " --verify " + batch);
  EXPECT_EQ(verify.status, 0) << verify.output;
}

TEST_F(Slurm, TrainingRunsToItsStepLimit) {
  const auto run = *work_ / "limit";
  const auto id = submit_train(run, "--max-steps 8 --checkpoint-interval 4");
  ASSERT_FALSE(id.empty());
  auto j = wait_finished(id, 90);
  const auto log = read_file(run + ".out");
  ASSERT_EQ(j["JobState"], "COMPLETED") << log;
  EXPECT_EQ(j["ExitCode"], "0:0");
  EXPECT_EQ(j["Restarts"], "0");
  EXPECT_NE(log.find("2 rank(s) on cpu"), std::string::npos) << log;
  EXPECT_EQ(count_lines(run + ".out", "step "), 8) << log;
  EXPECT_TRUE(fs::exists(checkpoint_file(run, 4)));
  EXPECT_TRUE(fs::exists(checkpoint_file(run, 8)));
  EXPECT_EQ(latest_step(run), 8);
  EXPECT_EQ(read_checkpoint(checkpoint_file(run, 8)).meta("world_size"), "2");
  int events = 0;
  for (const auto& e : fs::directory_iterator(run))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0 && fs::file_size(e.path()) > 0) ++events;
  EXPECT_GE(events, 1) << "no TensorBoard event file in " << run;
  EXPECT_EQ(trainers(run), "");
}

TEST_F(Slurm, PreemptedJobCheckpointsIsRequeuedAndResumesBitExactly) {
  constexpr int kSteps = 30;
  const auto run = *work_ / "preempted", ref = *work_ / "uninterrupted";
  const auto id = submit_train(run, "--max-steps " + std::to_string(kSteps) + " --checkpoint-interval 1000");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_steps(run + ".out", 3)) << read_file(run + ".out");
  // A job in the higher-priority partition that needs the whole node preempts the training job:
  // it gets its --signal (USR1) at once (preempt_send_user_signal), SIGTERM after GraceTime.
  const auto high = sbatch("", "--partition=high --exclusive --ntasks=1 --output=" + *work_ / "high.out",
                           "--wrap 'sleep 1'");
  ASSERT_FALSE(high.empty());
  // Meanwhile (the requeued job waits a few seconds to start again), the same run uninterrupted,
  // with the same thread count as the job's tasks (OMP_NUM_THREADS=1).
  auto reference = std::async(std::launch::async, [&] {
    return run_command("OMP_NUM_THREADS=1 " + mpirun(2) + bin_path("diffwave-train") + " --device cpu --config " +
                       source_path("configs/tiny.yaml") + " --data " + *work_ / "prep" + " --run-dir " + ref +
                       " --max-steps " + std::to_string(kSteps) + " --checkpoint-interval 1000" + kQuiet);
  });
  auto j = wait_finished(id, 120);
  const auto log = read_file(run + ".out");
  auto r = reference.get();
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(j["JobState"], "COMPLETED") << log;
  EXPECT_EQ(j["ExitCode"], "0:0");
  EXPECT_EQ(j["Restarts"], "1") << log;
  EXPECT_EQ(state(high), "COMPLETED");
  EXPECT_NE(log.find("stopping at step"), std::string::npos) << log;
  EXPECT_NE(log.find("exit 75 to requeue"), std::string::npos) << log;
  EXPECT_NE(log.find("resumed from"), std::string::npos) << log;
  EXPECT_NE(log.find("done,"), std::string::npos) << log;
  // Weights, optimiser state, EMA, losses, RNG and metadata all equal: the files are identical.
  EXPECT_EQ(cmp(checkpoint_file(ref, kSteps), checkpoint_file(run, kSteps)), "");
  EXPECT_EQ(trainers(run), "");
}

TEST_F(Slurm, TimeLimitSignalCheckpointsAndRequeues) {
  const auto run = *work_ / "timelimit";
  const auto id = submit_train(run, "--max-steps 100000 --checkpoint-interval 1000", "--time=10");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_steps(run + ".out", 3)) << read_file(run + ".out");
  // The warning train.sbatch asks for (--signal=USR1@180: USR1 to every task of the step, not the
  // batch shell) comes 120-180 s before the limit at a time Slurm picks; send the same signal to
  // the same processes now.
  auto s = run_command("scancel --signal=USR1 " + id);
  ASSERT_EQ(s.status, 0) << s.output;
  const bool requeued = wait_until([&] { return job(id)["Restarts"] == "1"; }, 60);
  const auto log = read_file(run + ".out");
  ASSERT_TRUE(requeued) << log;
  EXPECT_NE(log.find("(signal 10); checkpoint written, exit 75 to requeue"), std::string::npos) << log;
  EXPECT_NE(log.find("requeueing job " + id), std::string::npos) << log;
  const auto pos = log.find("stopping at step ");
  ASSERT_NE(pos, std::string::npos) << log;
  const auto stopped = std::stoll(log.substr(pos + 17));
  EXPECT_GE(stopped, 3);
  EXPECT_EQ(latest_step(run), stopped);
  run_command("scancel " + id);
  auto j = wait_finished(id, 30);
  EXPECT_EQ(j["JobState"], "CANCELLED");
  EXPECT_TRUE(wait_until([&] { return trainers(run).empty(); }, 15)) << trainers(run);
}

TEST_F(Slurm, ScancelEndsTheJobWithItsLastCheckpointIntact) {
  const auto run = *work_ / "cancelled";
  const auto id = submit_train(run, "--max-steps 100000 --checkpoint-interval 2");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_steps(run + ".out", 5)) << read_file(run + ".out");
  const auto t = Clock::now();
  auto s = run_command("scancel " + id);
  ASSERT_EQ(s.status, 0) << s.output;
  auto j = wait_finished(id, 40);
  std::cout << "[ scancel  ] job ended " << seconds_since(t) << " s after scancel\n";
  const auto log = read_file(run + ".out");
  EXPECT_EQ(j["JobState"], "CANCELLED") << log;
  EXPECT_EQ(j["Restarts"], "0") << log;  // cancelled, not requeued
  EXPECT_TRUE(wait_until([&] { return trainers(run).empty(); }, 15)) << trainers(run);
  // The latest checkpoint reads back (read_checkpoint checks its CRC) and is a recent one.
  EXPECT_GE(latest_step(run), 4) << log;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(state(id), "CANCELLED");
}

TEST_F(Slurm, KilledTaskEndsTheStepAndARerunResumes) {
  const auto run = *work_ / "killed";
  const auto id = submit_train(run, "--max-steps 100000 --checkpoint-interval 2 --comm-timeout 60");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_steps(run + ".out", 6)) << read_file(run + ".out");
  // Task 1 (SLURM_PROCID=1) of the step, found by its environment.
  auto kill = run_command("for p in $(pgrep -f 'diffwave-train.*--run-dir " + run + " '); do "
                          "tr '\\0' '\\n' < /proc/$p/environ | grep -qx SLURM_PROCID=1 && kill -KILL $p && echo killed $p; done");
  ASSERT_NE(kill.output.find("killed"), std::string::npos) << kill.output;
  const auto t = Clock::now();
  // srun -K ends the whole step at once, well before --comm-timeout would.
  auto j = wait_finished(id, 45);
  const double took = seconds_since(t);
  std::cout << "[ killed   ] job ended " << took << " s after SIGKILL\n";
  const auto log = read_file(run + ".out");
  EXPECT_EQ(j["JobState"], "FAILED") << log;
  EXPECT_NE(j["ExitCode"], "0:0") << log;
  EXPECT_EQ(j["Restarts"], "0") << log;
  EXPECT_LT(took, 40);
  EXPECT_TRUE(wait_until([&] { return trainers(run).empty(); }, 15)) << trainers(run);
  const auto step = latest_step(run);
  ASSERT_GE(step, 2) << log;
  // Resubmitting the same run resumes from the latest checkpoint.
  const auto again = submit_train(run, "--max-steps " + std::to_string(step + 2) + " --checkpoint-interval 2");
  auto k = wait_finished(again, 90);
  const auto log2 = read_file(run + ".out");
  ASSERT_EQ(k["JobState"], "COMPLETED") << log2;
  EXPECT_NE(log2.find("resumed from " + checkpoint_file(run, step)), std::string::npos) << log2;
  EXPECT_EQ(latest_step(run), step + 2);
}

TEST_F(Slurm, SamplingJobWritesEveryWav) {
  if (!fs::exists(bin_path("diffwave-sample"))) GTEST_SKIP() << bin_path("diffwave-sample") << " is not built";
  const auto run = *work_ / "for-sampling", out = *work_ / "samples";
  auto t = run_command(bin_path("diffwave-train") + " --device cpu --config " + source_path("configs/tiny.yaml") +
                       " --data " + *work_ / "prep" + " --run-dir " + run + " --max-steps 2" + kQuiet);
  ASSERT_EQ(t.status, 0) << t.output;
  const auto id = sbatch("CHECKPOINT=" + run + " MEL=" + *work_ / "prep" + " OUTPUT=" + out + " DEVICE=cpu",
                         "--ntasks=2 --cpus-per-task=1 --output=" + out + ".out", "cluster/sample.sbatch");
  ASSERT_FALSE(id.empty());
  auto j = wait_finished(id, 120);
  const auto log = read_file(out + ".out");
  ASSERT_EQ(j["JobState"], "COMPLETED") << log;
  EXPECT_EQ(j["ExitCode"], "0:0");
  // One WAV per prepared utterance (training and validation split), each non-empty.
  for (unsigned i = 0; i < kUtterances; ++i) {
    const auto wav = out + "/utt" + std::to_string(100 + i) + ".wav";
    EXPECT_TRUE(fs::exists(wav) && fs::file_size(wav) > 44) << wav << "\n" << log;
  }
  int wavs = 0;
  for (const auto& e : fs::directory_iterator(out)) wavs += e.path().extension() == ".wav";
  EXPECT_EQ(wavs, kUtterances) << log;
}
