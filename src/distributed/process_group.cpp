#include "distributed/process_group.h"

#include <fmt/format.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "common/error.h"
#include "distributed/mpi_check.h"

namespace diffwave {

namespace {

// Set by mpirun/mpiexec (Open MPI, MPICH, Intel MPI) and srun with PMI/PMIx.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (std::getenv(name)) return true;
  return false;
}

bool mpi_initialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  return flag != 0;
}

// Finalises MPI at exit when this process initialised it.
struct MpiFinalizer {
  bool owned = false;
  ~MpiFinalizer() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owned && !finalized) MPI_Finalize();
  }
};
MpiFinalizer finalizer;

// Lengths first, then the concatenated payloads (MPI counts are int: one string must stay < 2 GiB).
std::vector<std::string> split(const std::string& all, const std::vector<int>& lengths) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (int n : lengths) {
    out.push_back(all.substr(pos, static_cast<size_t>(n)));
    pos += static_cast<size_t>(n);
  }
  return out;
}

std::vector<int> displacements(const std::vector<int>& lengths) {
  std::vector<int> d(lengths.size(), 0);
  for (size_t i = 1; i < lengths.size(); ++i) d[i] = d[i - 1] + lengths[i - 1];
  return d;
}

int checked_length(const std::string& bytes) {
  if (bytes.size() > static_cast<size_t>(1) << 30)
    throw Error(fmt::format("collective payload of {} bytes exceeds the 1 GiB limit", bytes.size()));
  return static_cast<int>(bytes.size());
}

}  // namespace

ProcessGroup::ProcessGroup() {
  if (!mpi_initialized()) {
    if (!launched_by_mpi()) return;  // a plain run: a world of one, no MPI runtime needed
    int provided = 0;
    // The trainer's gradient all-reduce runs on its own thread while the main thread waits, and
    // the watchdog may abort from a third: ask for full thread support.
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init");
    if (provided < MPI_THREAD_SERIALIZED)
      throw Error("this MPI library offers no multi-threaded mode (MPI_THREAD_SERIALIZED or better)");
    finalizer.owned = true;
  }
  mpi_ = true;
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

ProcessGroup& ProcessGroup::world() {
  static ProcessGroup group;
  return group;
}

void ProcessGroup::barrier(const char* what) {
  const auto scope = own(what);
  if (mpi_) check_mpi(MPI_Barrier(MPI_COMM_WORLD), "barrier");
}

std::vector<std::string> ProcessGroup::gather_text(const std::string& bytes, int root, const char* what) {
  if (!mpi_) return {bytes};
  const auto scope = own(what, bytes.size());
  int length = checked_length(bytes);
  std::vector<int> lengths(rank_ == root ? static_cast<size_t>(size_) : 0);
  check_mpi(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "gather (lengths)");
  std::string all;
  std::vector<int> offsets;
  if (rank_ == root) {
    offsets = displacements(lengths);
    all.resize(static_cast<size_t>(std::accumulate(lengths.begin(), lengths.end(), 0LL)));
  }
  check_mpi(MPI_Gatherv(bytes.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(), MPI_BYTE, root,
                    MPI_COMM_WORLD),
        "gather");
  return rank_ == root ? split(all, lengths) : std::vector<std::string>{};
}

std::vector<std::string> ProcessGroup::allgather_text(const std::string& bytes, const char* what) {
  if (!mpi_) return {bytes};
  const auto scope = own(what, bytes.size());
  int length = checked_length(bytes);
  std::vector<int> lengths(static_cast<size_t>(size_));
  check_mpi(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD), "allgather (lengths)");
  const auto offsets = displacements(lengths);
  std::string all(static_cast<size_t>(std::accumulate(lengths.begin(), lengths.end(), 0LL)), '\0');
  check_mpi(MPI_Allgatherv(bytes.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(), MPI_BYTE,
                       MPI_COMM_WORLD),
        "allgather");
  return split(all, lengths);
}

std::string ProcessGroup::broadcast_text(const std::string& bytes, int root, const char* what) {
  if (!mpi_) return bytes;
  const auto scope = own(what, bytes.size());
  int length = rank_ == root ? checked_length(bytes) : 0;
  check_mpi(MPI_Bcast(&length, 1, MPI_INT, root, MPI_COMM_WORLD), "broadcast (length)");
  std::string out = rank_ == root ? bytes : std::string(static_cast<size_t>(length), '\0');
  check_mpi(MPI_Bcast(out.data(), length, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
  return out;
}

namespace {

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::sum ? MPI_SUM : op == ReduceOp::min ? MPI_MIN : MPI_MAX; }

}  // namespace

long long ProcessGroup::allreduce(long long value, ReduceOp op, const char* what) {
  if (!mpi_) return value;
  const auto scope = own(what);
  long long out = value;
  check_mpi(MPI_Allreduce(&value, &out, 1, MPI_LONG_LONG, mpi_op(op), MPI_COMM_WORLD), what);
  return out;
}

double ProcessGroup::allreduce(double value, ReduceOp op, const char* what) {
  if (!mpi_) return value;
  const auto scope = own(what);
  double out = value;
  check_mpi(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, mpi_op(op), MPI_COMM_WORLD), what);
  return out;
}

void ProcessGroup::allgather_raw(const void* in, size_t size, void* out, const char* what) {
  if (!mpi_) {
    std::memcpy(out, in, size);
    return;
  }
  const auto scope = own(what, size);
  check_mpi(MPI_Allgather(in, static_cast<int>(size), MPI_BYTE, out, static_cast<int>(size), MPI_BYTE, MPI_COMM_WORLD),
            what);
}

void ProcessGroup::gather_raw(const void* in, size_t size, void* out, int root, const char* what) {
  if (!mpi_) {
    std::memcpy(out, in, size);
    return;
  }
  const auto scope = own(what, size);
  check_mpi(MPI_Gather(in, static_cast<int>(size), MPI_BYTE, out, static_cast<int>(size), MPI_BYTE, root, MPI_COMM_WORLD),
            what);
}

void ProcessGroup::broadcast_raw(void* data, size_t size, int root, const char* what) {
  if (!mpi_) return;
  const auto scope = own(what, size);
  check_mpi(MPI_Bcast(data, static_cast<int>(size), MPI_BYTE, root, MPI_COMM_WORLD), what);
}

std::pair<int, int> ProcessGroup::local_rank_and_size() {
  if (const char* key = std::getenv("DIFFWAVE_NODE_KEY")) {
    const auto keys = allgather_text(key, "node split");
    int local_rank = 0, local_size = 0;
    for (int r = 0; r < size_; ++r)
      if (keys[static_cast<size_t>(r)] == key) {
        local_rank += r < rank_;
        ++local_size;
      }
    return {local_rank, local_size};
  }
  if (!mpi_) return {0, 1};
  const auto scope = own("node split");
  MPI_Comm node;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "Comm_split_type");
  int local_rank = 0, local_size = 1;
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_size(node, &local_size);
  MPI_Comm_free(&node);
  return {local_rank, local_size};
}

void ProcessGroup::abort(const std::string& message, int code) {
  std::fprintf(stderr, "rank %d: %s\n", rank_, message.c_str());
  std::fflush(stderr);
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

}  // namespace diffwave
