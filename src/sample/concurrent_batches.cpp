#include "sample/concurrent_batches.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#ifdef DIFFWAVE_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace diffwave {

void for_each_concurrently(size_t n, int workers, const at::Device& device, const std::function<void(size_t)>& work) {
  if (workers <= 1 || n <= 1) {
    for (size_t i = 0; i < n; ++i) work(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mutex;
  auto worker = [&] {
#ifdef DIFFWAVE_HAVE_CUDA
    std::optional<c10::cuda::CUDAStreamGuard> stream;
    if (device.is_cuda()) stream.emplace(c10::cuda::getStreamFromPool(false, device.index()));
#endif
    for (size_t i; !failed && (i = next++) < n;) {
      try {
        work(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  const size_t count = std::min<size_t>(static_cast<size_t>(workers), n);
  for (size_t t = 0; t < count; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace diffwave
