// The processes of one job and the few byte-string collectives that CPU-side tools need
// (diffwave-prep; the trainer's start-up). On MPI when the program was started by a launcher
// (mpirun, srun) or MPI is already initialised; otherwise a world of one that needs no MPI
// runtime. Every collective must be called by all ranks in the same order, and runs under the
// watchdog the tool gave watch() (named by its `what`, which stall reports print).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "dist/watchdog.h"

namespace diffwave {

class ProcessGroup {
 public:
  // The job's processes. The first call initialises MPI when needed (and finalises it at exit).
  static ProcessGroup& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  // Every collective from now on runs under `watchdog` (nullptr: none). Set it before the first
  // collective, so that a rank that never arrives (slow file system, dead node) is caught there too.
  void watch(Watchdog* watchdog) { watchdog_ = watchdog; }
  // This rank finished a unit of work (an input, a batch): a peer waiting for it in a collective
  // then knows it is alive and working (Watchdog::progress). No-op without a watchdog.
  void progress() {
    if (watchdog_) watchdog_->progress();
  }
  Watchdog* watchdog() const { return watchdog_; }

  void barrier(const char* what = "barrier");
  // Every rank's `bytes`, in rank order, at `root` (empty elsewhere).
  std::vector<std::string> gather(const std::string& bytes, int root = 0, const char* what = "gather");
  // Every rank's `bytes`, in rank order, on every rank.
  std::vector<std::string> allgather(const std::string& bytes, const char* what = "allgather");
  // root's `bytes` on every rank.
  std::string broadcast(const std::string& bytes, int root = 0, const char* what = "broadcast");
  // The smallest and largest of one integer over ranks.
  long long min(long long value, const char* what = "min");
  long long max(long long value, const char* what = "max");

  // This rank's index among the ranks on its node, and their number: MPI's shared-memory split,
  // or, when DIFFWAVE_NODE_KEY is set, the ranks with the same key (tests use it to group the
  // ranks of one machine into simulated nodes). Collective.
  std::pair<int, int> local_rank_and_size();

  // Prints "rank R: message" to stderr and ends every process of the job with `code`.
  [[noreturn]] void abort(const std::string& message, int code = 1);

 private:
  ProcessGroup();
  Watchdog::Scope watched(const char* what, size_t bytes = 0) { return {mpi_ ? watchdog_ : nullptr, what, bytes}; }
  bool mpi_ = false;
  int rank_ = 0, size_ = 1;
  Watchdog* watchdog_ = nullptr;
};

}  // namespace diffwave
