#include "dist/process_group.h"

#include <fmt/format.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "common/error.h"

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

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw Error(fmt::format("MPI {} failed: {}", what, std::string(text, static_cast<size_t>(len))));
  }
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
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init");
    if (provided < MPI_THREAD_SERIALIZED)
      throw Error("this MPI library offers no multi-threaded mode (MPI_THREAD_SERIALIZED or better)");
    finalizer.owned = true;
  }
  mpi_ = true;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

ProcessGroup& ProcessGroup::world() {
  static ProcessGroup group;
  return group;
}

void ProcessGroup::barrier(const char* what) {
  const auto scope = watched(what);
  if (mpi_) check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
}

std::vector<std::string> ProcessGroup::gather(const std::string& bytes, int root, const char* what) {
  if (!mpi_) return {bytes};
  const auto scope = watched(what, bytes.size());
  int length = checked_length(bytes);
  std::vector<int> lengths(rank_ == root ? static_cast<size_t>(size_) : 0);
  check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "gather (lengths)");
  std::string all;
  std::vector<int> offsets;
  if (rank_ == root) {
    offsets = displacements(lengths);
    all.resize(static_cast<size_t>(std::accumulate(lengths.begin(), lengths.end(), 0LL)));
  }
  check(MPI_Gatherv(bytes.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(), MPI_BYTE, root,
                    MPI_COMM_WORLD),
        "gather");
  return rank_ == root ? split(all, lengths) : std::vector<std::string>{};
}

std::vector<std::string> ProcessGroup::allgather(const std::string& bytes, const char* what) {
  if (!mpi_) return {bytes};
  const auto scope = watched(what, bytes.size());
  int length = checked_length(bytes);
  std::vector<int> lengths(static_cast<size_t>(size_));
  check(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD), "allgather (lengths)");
  const auto offsets = displacements(lengths);
  std::string all(static_cast<size_t>(std::accumulate(lengths.begin(), lengths.end(), 0LL)), '\0');
  check(MPI_Allgatherv(bytes.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(), MPI_BYTE,
                       MPI_COMM_WORLD),
        "allgather");
  return split(all, lengths);
}

std::string ProcessGroup::broadcast(const std::string& bytes, int root, const char* what) {
  if (!mpi_) return bytes;
  const auto scope = watched(what, bytes.size());
  int length = rank_ == root ? checked_length(bytes) : 0;
  check(MPI_Bcast(&length, 1, MPI_INT, root, MPI_COMM_WORLD), "broadcast (length)");
  std::string out = rank_ == root ? bytes : std::string(static_cast<size_t>(length), '\0');
  check(MPI_Bcast(out.data(), length, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
  return out;
}

long long ProcessGroup::min(long long value, const char* what) {
  if (!mpi_) return value;
  const auto scope = watched(what);
  long long out = value;
  check(MPI_Allreduce(&value, &out, 1, MPI_LONG_LONG, MPI_MIN, MPI_COMM_WORLD), "allreduce (min)");
  return out;
}

long long ProcessGroup::max(long long value, const char* what) {
  if (!mpi_) return value;
  const auto scope = watched(what);
  long long out = value;
  check(MPI_Allreduce(&value, &out, 1, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD), "allreduce (max)");
  return out;
}

std::pair<int, int> ProcessGroup::local_rank_and_size() {
  if (const char* key = std::getenv("DIFFWAVE_NODE_KEY")) {
    const auto keys = allgather(key, "node split");
    int local_rank = 0, local_size = 0;
    for (int r = 0; r < size_; ++r)
      if (keys[static_cast<size_t>(r)] == key) {
        local_rank += r < rank_;
        ++local_size;
      }
    return {local_rank, local_size};
  }
  if (!mpi_) return {0, 1};
  const auto scope = watched("node split");
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "Comm_split_type");
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
