// Averages gradients over ranks in flat buckets, overlapped with backward: each parameter's hook
// copies its gradient into its bucket, and a bucket is handed to a communication thread as soon
// as it is full, always in the same bucket order on every rank (a different order would mix up
// tensors or hang).
#pragma once
#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "distributed/communicator.h"

namespace diffwave {

class GradientReducer {
 public:
  struct Bucket {
    std::vector<size_t> params;   // indices into the parameter list, in bucket order
    std::vector<int64_t> offsets; // element offset of each parameter in `flat`
    at::Tensor flat;              // contiguous gradients, reduced in place
    size_t ready = 0;
  };

  // Buckets hold parameters in reverse order (the order backward produces gradients), each up to
  // `bucket_cap_bytes`, the first up to 1 MiB (a larger parameter gets a bucket of its own).
  GradientReducer(std::vector<at::Tensor> params, Communicator& comm, size_t bucket_cap_bytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Call before backward. sync = false for the non-final micro-steps of gradient accumulation:
  // gradients then only accumulate locally and nothing is communicated.
  void prepare(bool sync);
  // Call after backward: waits for every bucket and writes the averaged gradients to .grad().
  void finish();

  const std::vector<Bucket>& buckets() const { return buckets_; }
  // Seconds the last finish() spent waiting for communication after backward had ended: the
  // part of the step that overlap did not hide.
  double last_wait_seconds() const { return last_wait_; }
  // Buckets handed to the communication thread so far in this step (all of them by the end of a
  // backward in which every parameter got a gradient: the overlap with backward).
  size_t launched() {
    std::lock_guard<std::mutex> lock(mutex_);
    return next_launch_;
  }

 private:
  void on_gradient(size_t param, const at::Tensor& grad);
  void launch_ready_buckets();  // with mutex_ held
  void comm_loop();

  std::vector<at::Tensor> params_;
  Communicator& comm_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> where_;  // param -> (bucket, slot)
  std::vector<bool> seen_;
  bool sync_ = false;
  double last_wait_ = 0;
  size_t next_launch_ = 0;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<size_t> queue_;
  size_t done_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace diffwave
