#include "distributed/device.h"

#include <fmt/format.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/error.h"

#ifdef DIFFWAVE_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace diffwave {

c10::Device plan_device(const std::string& requested, int local_rank, int local_size, int rank, int gpus) {
  if (requested != "auto" && requested != "cuda" && requested != "cpu")
    throw ConfigError(fmt::format("device '{}': expected auto, cuda or cpu", requested));
  if (requested == "cpu" || (requested == "auto" && gpus == 0)) return c10::Device(c10::kCPU);
  if (gpus == 0) throw Error(fmt::format("rank {}: --device cuda, but no GPU is visible", rank));
  const char* shared = std::getenv("NCCL_MULTI_RANK_GPU_ENABLE");
  const bool may_share = shared && std::strcmp(shared, "1") == 0;
  if (local_size > gpus && !may_share)
    throw Error(fmt::format("rank {}: {} ranks on this node but only {} GPU(s) visible: launch one rank per GPU "
                            "(or set NCCL_MULTI_RANK_GPU_ENABLE=1 to share)",
                            rank, local_size, gpus));
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
}

c10::Device select_device(const std::string& requested, int local_rank, int local_size, int rank) {
  const auto device =
      plan_device(requested, local_rank, local_size, rank, static_cast<int>(torch::cuda::device_count()));
#ifdef DIFFWAVE_HAVE_CUDA
  if (device.is_cuda()) cudaSetDevice(device.index());  // before anything allocates on device 0
#endif
  return device;
}

int cpu_threads_per_rank(int local_size) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, local_size));
}

}  // namespace diffwave
