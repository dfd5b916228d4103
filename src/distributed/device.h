// Which device a rank computes on: one GPU per rank by local rank, chosen before any CUDA
// allocation, or CPU ranks sharing the node's cores.
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace diffwave {

// requested: "auto" (a GPU when one is visible), "cuda" or "cpu". Throws Error when a node has
// more ranks than GPUs (NCCL refuses two ranks on one GPU unless NCCL_MULTI_RANK_GPU_ENABLE=1).
c10::Device select_device(const std::string& requested, int local_rank, int local_size, int rank);
// The same decision for `visible_gpus` GPUs, without touching CUDA (for tests and planning).
c10::Device plan_device(const std::string& requested, int local_rank, int local_size, int rank, int visible_gpus);

// Intra-op threads for a CPU rank: the node's cores split evenly between its ranks.
int cpu_threads_per_rank(int local_size);

}  // namespace diffwave
