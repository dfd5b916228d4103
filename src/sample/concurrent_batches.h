// Several batches of a sampling job in flight at once: on a GPU each worker thread issues its own
// CUDA stream, so the kernels of small batches (one utterance each when lengths differ) overlap;
// on the CPU, workers share the cores like ranks would, without MPI. A batch's arithmetic does
// not change with the number of workers, so neither does its audio.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <functional>

namespace diffwave {

// Calls work(i) for every i in [0, n), in order of i, on `workers` threads (each with a stream
// of its own on a CUDA `device`); workers <= 1 runs on the calling thread. After a failure no new
// index is handed out; the first exception is rethrown once every thread has stopped.
void for_each_concurrently(size_t n, int workers, const at::Device& device, const std::function<void(size_t)>& work);

}  // namespace diffwave
