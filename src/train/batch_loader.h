// Builds this rank's part of each global batch on a background thread, a few steps ahead, so a
// training step waits on I/O only when reading is slower than computing. A batch is a pure
// function of the plan's step: audio and mel crops, diffusion steps, and noise drawn from each
// item's own seed (so it does not matter which rank draws it).
#pragma once
#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "train/batch_plan.h"
#include "data/dataset.h"

namespace diffwave {

struct TrainingBatch {
  int64_t step = 0;
  at::Tensor audio;  // [b, samples], CPU float (pinned when `pin` is set)
  at::Tensor mel;    // [b, n_mels, frames], undefined for unconditional data
  at::Tensor t;      // [b] int64
  at::Tensor noise;  // [b, samples]
};

// A batch's tensors for the given items (also used for validation, on the calling thread).
TrainingBatch make_batch(const Dataset& data, const std::vector<BatchItem>& items, int64_t crop, int hop, int n_mels,
                         bool unconditional, bool pin = false);

class BatchLoader {
 public:
  // crop: frames (conditional) or samples (unconditional), as in the plan.
  BatchLoader(const Dataset& data, const BatchPlan& plan, int rank, int world, int64_t crop, int hop, int n_mels,
              bool unconditional, int64_t first_step, int prefetch = 3, bool pin = false);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next step's batch; `waited` gets the seconds spent blocked on the loader.
  TrainingBatch next(double* waited = nullptr);

 private:
  void loop();
  const Dataset& data_;
  const BatchPlan& plan_;
  int rank_, world_, hop_, n_mels_;
  int64_t crop_;
  bool unconditional_, pin_;
  size_t prefetch_;
  int64_t next_step_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<TrainingBatch> ready_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace diffwave
