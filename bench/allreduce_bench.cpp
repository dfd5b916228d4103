// All-reduce bus bandwidth for a gradient-sized buffer: our communicator (what training uses)
// against a bare MPI_Allreduce of the same bytes. Run under mpirun:
//   launch/mpirun.sh -np 2 build/bin/diffwave-bench-allreduce [--floats N] [--iters K]
// busbw = bytes / time * 2 (n - 1) / n, as nccl-tests report it.
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "distributed/communicator.h"
#include "distributed/process_group.h"

using namespace diffwave;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
// Median seconds of `iters` timed calls after warm-up, the slowest rank's view.
double time_calls(const std::function<void()>& call, int iters) {
  for (int i = 0; i < 3; ++i) call();
  std::vector<double> times;
  for (int i = 0; i < iters; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    call();
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    times.push_back(dt);
  }
  return median(times);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"All-reduce bus bandwidth: diffwave's communicator vs a bare MPI_Allreduce of the same bytes"};
  std::vector<int64_t> sizes{406691, 2619971};  // tiny and BASE gradients, in floats
  int iters = 20;
  app.add_option("--floats", sizes, "buffer sizes in float32 elements (default: tiny and BASE gradients)");
  app.add_option("--iters", iters, "timed repetitions (median reported)");
  CLI11_PARSE(app, argc, argv);
  auto& group = ProcessGroup::world();
  if (group.size() < 2) {
    std::fprintf(stderr, "run under mpirun with at least 2 ranks\n");
    return 2;
  }
  auto comm = make_communicator(group, c10::Device(c10::kCPU));
  const int n = group.size();
  for (int64_t floats : sizes) {
    auto ours = at::ones({floats});
    auto bare = at::ones({floats});
    const double t_ours = time_calls([&] { comm->all_reduce_mean(ours); }, iters);
    const double t_bare = time_calls(
        [&] {
          MPI_Allreduce(MPI_IN_PLACE, bare.data_ptr<float>(), static_cast<int>(floats), MPI_FLOAT, MPI_SUM,
                        MPI_COMM_WORLD);
        },
        iters);
    const double bytes = static_cast<double>(floats) * 4;
    auto busbw = [&](double t) { return bytes / t * 2.0 * (n - 1) / n / 1e9; };
    if (group.is_root())
      std::printf("allreduce %d ranks, %.2f MB: diffwave %.3f ms (busbw %.2f GB/s), bare MPI_Allreduce %.3f ms "
                  "(busbw %.2f GB/s), ratio %.2f\n",
                  n, bytes / 1e6, t_ours * 1e3, busbw(t_ours), t_bare * 1e3, busbw(t_bare), t_bare / t_ours);
  }
  return 0;
}
