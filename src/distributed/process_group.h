// The processes of one job and the typed collectives that CPU-side work needs: numbers reduced
// with an op, fixed-size records gathered or broadcast, and text where the payload is text
// (manifest rows, JSON plans). On MPI when the program was started by a launcher (mpirun, srun)
// or MPI is already initialised; otherwise a world of one that needs no MPI runtime. Every
// collective must be called by all ranks in the same order, and runs under the watchdog the tool
// gave watch() (named by its `what`, which stall reports print); so do the tensor communicators
// made from the group (make_communicator).
#pragma once
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "distributed/watchdog.h"

namespace diffwave {

enum class ReduceOp { sum, min, max };

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
  // A bracket for a collective that is not one of the group's own (a communicator's set-up),
  // under the group's watchdog; no-op without one.
  Watchdog::Scope watched(const std::string& what, size_t bytes = 0) { return {watchdog_, what, bytes}; }

  void barrier(const char* what = "barrier");
  // `op` of one number over ranks, on every rank.
  long long allreduce(long long value, ReduceOp op, const char* what);
  double allreduce(double value, ReduceOp op, const char* what);

  // Records of a trivially copyable type, as raw bytes: every rank's, in rank order, on every
  // rank; every rank's at `root` (empty elsewhere); root's on every rank.
  template <class T>
  std::vector<T> allgather(const T& record, const char* what) {
    static_assert(std::is_trivially_copyable_v<T>, "records cross ranks as raw bytes");
    std::vector<T> out(static_cast<size_t>(size_));
    allgather_raw(&record, sizeof(T), out.data(), what);
    return out;
  }
  template <class T>
  std::vector<T> gather(const T& record, int root, const char* what) {
    static_assert(std::is_trivially_copyable_v<T>, "records cross ranks as raw bytes");
    std::vector<T> out(rank_ == root ? static_cast<size_t>(size_) : 0);
    gather_raw(&record, sizeof(T), out.data(), root, what);
    return out;
  }
  template <class T>
  T broadcast(const T& record, int root, const char* what) {
    static_assert(std::is_trivially_copyable_v<T>, "records cross ranks as raw bytes");
    T out = record;
    broadcast_raw(&out, sizeof(T), root, what);
    return out;
  }

  // Text of any length per rank, for payloads that are text: every rank's, in rank order, at
  // `root` (empty elsewhere) or on every rank; root's on every rank.
  std::vector<std::string> gather_text(const std::string& text, int root, const char* what);
  std::vector<std::string> allgather_text(const std::string& text, const char* what);
  std::string broadcast_text(const std::string& text, int root, const char* what);

  // This rank's index among the ranks on its node, and their number: MPI's shared-memory split,
  // or, when DIFFWAVE_NODE_KEY is set, the ranks with the same key (tests use it to group the
  // ranks of one machine into simulated nodes). Collective.
  std::pair<int, int> local_rank_and_size();

  // Prints "rank R: message" to stderr and ends every process of the job with `code`.
  [[noreturn]] void abort(const std::string& message, int code = 1);

 private:
  ProcessGroup();
  Watchdog::Scope own(const char* what, size_t bytes = 0) { return {mpi_ ? watchdog_ : nullptr, what, bytes}; }
  void allgather_raw(const void* in, size_t size, void* out, const char* what);
  void gather_raw(const void* in, size_t size, void* out, int root, const char* what);
  void broadcast_raw(void* data, size_t size, int root, const char* what);
  bool mpi_ = false;
  int rank_ = 0, size_ = 1;
  Watchdog* watchdog_ = nullptr;
};

}  // namespace diffwave
