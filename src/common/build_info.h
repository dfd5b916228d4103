// What this build was compiled with and what it can see at run time (LibTorch, CUDA, NCCL, GPUs).
#pragma once
#include <string>

namespace diffwave {

std::string build_summary();  // one line, for --version and --dry-run

}  // namespace diffwave
