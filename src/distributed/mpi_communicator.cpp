// Collectives on CPU tensors over MPI, on a duplicate of MPI_COMM_WORLD so that gradient traffic
// never interleaves with the process group's own collectives.
#include <fmt/format.h>
#include <mpi.h>

#include <ATen/ATen.h>

#include "common/error.h"
#include "distributed/communicator.h"
#include "distributed/mpi_check.h"
#include "distributed/process_group.h"

namespace diffwave {

namespace {

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(ProcessGroup& group) : rank_(group.rank()), size_(group.size()) {
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "Comm_dup");
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }

  void all_reduce_mean(at::Tensor& t) override {
    require_cpu_float(t, "all-reduce");
    const int n = static_cast<int>(t.numel());
    float* data = t.data_ptr<float>();
    if (size_ == 2) {
      // a + b and b + a are the same float: both ranks get the same bits from one allreduce.
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_FLOAT, MPI_SUM, comm_), "Allreduce");
      t.div_(size_);
      return;
    }
    // With more ranks an allreduce may sum in a different order on different ranks, and the
    // weights would drift apart: reduce to rank 0, then broadcast the very same bits.
    check_mpi(MPI_Reduce(rank_ == 0 ? MPI_IN_PLACE : data, rank_ == 0 ? data : nullptr, n, MPI_FLOAT, MPI_SUM, 0, comm_),
          "Reduce");
    if (rank_ == 0) t.div_(size_);
    check_mpi(MPI_Bcast(data, n, MPI_FLOAT, 0, comm_), "Bcast");
  }

  void broadcast(at::Tensor& t, int root) override {
    if (!t.is_cpu() || !t.is_contiguous()) throw Error("MPI broadcast needs a contiguous CPU tensor");
    check_mpi(MPI_Bcast(t.data_ptr(), static_cast<int>(t.nbytes()), MPI_BYTE, root, comm_), "Bcast");
  }

 private:
  static void require_cpu_float(const at::Tensor& t, const char* what) {
    if (!t.is_cpu() || !t.is_contiguous() || t.scalar_type() != at::kFloat)
      throw Error(fmt::format("MPI {} needs a contiguous float32 CPU tensor", what));
    if (t.numel() > INT32_MAX) throw Error(fmt::format("MPI {}: tensor of {} elements is too large", what, t.numel()));
  }
  int rank_, size_;
  MPI_Comm comm_ = MPI_COMM_NULL;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(ProcessGroup& group) {
  return std::make_unique<MpiCommunicator>(group);
}

}  // namespace diffwave
