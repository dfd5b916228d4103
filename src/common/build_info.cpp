#include "common/build_info.h"

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#ifdef DIFFWAVE_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif
#ifdef DIFFWAVE_HAVE_NCCL
#include <nccl.h>
#endif

namespace diffwave {

std::string build_summary() {
  std::string cuda = "CUDA off";
  std::string nccl = "NCCL off";
#ifdef DIFFWAVE_HAVE_CUDA
  int runtime = 0;
  cuda = cudaRuntimeGetVersion(&runtime) == cudaSuccess
             ? fmt::format("CUDA runtime {}.{}", runtime / 1000, (runtime % 1000) / 10)
             : "CUDA runtime unavailable";
#endif
#ifdef DIFFWAVE_HAVE_NCCL
  int version = 0;
  if (ncclGetVersion(&version) == ncclSuccess)
    nccl = fmt::format("NCCL {}.{}.{}", version / 10000, (version % 10000) / 100, version % 100);
#endif
  return fmt::format("diffwave-cpp {} (LibTorch {}, {}, {}, {} GPU(s) visible)", DIFFWAVE_VERSION, TORCH_VERSION,
                     cuda, nccl, torch::cuda::device_count());
}

}  // namespace diffwave
