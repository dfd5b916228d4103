// The processes of one job and the few byte-string collectives that CPU-side tools need
// (diffwave-prep; the trainer's start-up). On MPI when the program was started by a launcher
// (mpirun, srun) or MPI is already initialised; otherwise a world of one that needs no MPI
// runtime. Every collective must be called by all ranks in the same order.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace diffwave {

class ProcessGroup {
 public:
  // The job's processes. The first call initialises MPI when needed (and finalises it at exit).
  static ProcessGroup& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  void barrier();
  // Every rank's `bytes`, in rank order, at `root` (empty elsewhere).
  std::vector<std::string> gather(const std::string& bytes, int root = 0);
  // Every rank's `bytes`, in rank order, on every rank.
  std::vector<std::string> allgather(const std::string& bytes);
  // root's `bytes` on every rank.
  std::string broadcast(const std::string& bytes, int root = 0);
  // The smallest and largest of one integer over ranks.
  long long min(long long value);
  long long max(long long value);

  // This rank's index among the ranks on its node, and their number: MPI's shared-memory split,
  // or, when DIFFWAVE_NODE_KEY is set, the ranks with the same key (tests use it to group the
  // ranks of one machine into simulated nodes). Collective.
  std::pair<int, int> local_rank_and_size();

  // Prints "rank R: message" to stderr and ends every process of the job with `code`.
  [[noreturn]] void abort(const std::string& message, int code = 1);

 private:
  ProcessGroup();
  bool mpi_ = false;
  int rank_ = 0, size_ = 1;
};

}  // namespace diffwave
