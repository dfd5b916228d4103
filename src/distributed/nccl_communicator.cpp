// Collectives on CUDA tensors over NCCL. The unique id travels from rank 0 by the process
// group's broadcast; the communicator is non-blocking so that a stalled job can be aborted.
// Work runs on a dedicated stream ordered after the caller's stream by CUDA events.
#include <fmt/format.h>

#include "common/error.h"
#include "distributed/communicator.h"
#include "distributed/process_group.h"

#ifdef DIFFWAVE_HAVE_NCCL
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>
#endif

namespace diffwave {

#ifdef DIFFWAVE_HAVE_NCCL
namespace {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ProcessGroup& group, int device)
      : rank_(group.rank()), size_(group.size()), device_(device),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, static_cast<c10::DeviceIndex>(device))) {
    ncclUniqueId id{};
    if (group.is_root()) check(ncclGetUniqueId(&id), "GetUniqueId");
    id = group.broadcast(id, 0, "NCCL unique id");
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    check(ncclCommInitRankConfig(&comm_, size_, id, rank_, &config), "CommInitRank");
    wait_ready("CommInitRank");
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }

  void all_reduce_mean(at::Tensor& t) override {
    if (!t.is_cuda() || !t.is_contiguous() || t.scalar_type() != at::kFloat)
      throw Error("NCCL all-reduce needs a contiguous float32 CUDA tensor");
    order_after_caller(t);
    check(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), ncclFloat, ncclAvg, comm_, stream_),
          "AllReduce");
    wait_ready("AllReduce");
  }

  void broadcast(at::Tensor& t, int root) override {
    if (!t.is_cuda() || !t.is_contiguous()) throw Error("NCCL broadcast needs a contiguous CUDA tensor");
    order_after_caller(t);
    check(ncclBroadcast(t.data_ptr(), t.data_ptr(), t.nbytes(), ncclUint8, root, comm_, stream_), "Broadcast");
    wait_ready("Broadcast");
  }

  void abort() override {
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
  }

  void synchronize() override {
    at::cuda::CUDAEvent done;
    done.record(stream_);
    done.block(c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)));
  }

 private:
  void order_after_caller(const at::Tensor& t) {
    at::cuda::CUDAEvent ready;
    ready.record(c10::cuda::getCurrentCUDAStream(t.device().index()));
    ready.block(stream_);
    // The caching allocator must not reuse this memory before the collective is done with it.
    c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), stream_);
  }
  // Non-blocking communicators return ncclInProgress until an operation is enqueued.
  void wait_ready(const char* what) {
    ncclResult_t state = ncclInProgress;
    while (state == ncclInProgress) {
      check(ncclCommGetAsyncError(comm_, &state), what);
      if (state == ncclInProgress) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    check(state, what);
  }
  void check(ncclResult_t rc, const char* what) {
    if (rc != ncclSuccess && rc != ncclInProgress)
      throw Error(fmt::format("NCCL {} failed on rank {}: {} ({})", what, rank_, ncclGetErrorString(rc),
                              comm_ ? ncclGetLastError(comm_) : ""));
  }

  int rank_, size_, device_;
  c10::cuda::CUDAStream stream_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace
#endif

std::unique_ptr<Communicator> make_nccl_communicator(ProcessGroup& group, int device) {
#ifdef DIFFWAVE_HAVE_NCCL
  return std::make_unique<NcclCommunicator>(group, device);
#else
  throw Error("this build has no NCCL: rebuild with the CUDA toolkit and NCCL present, or train on CPU");
#endif
}

}  // namespace diffwave
