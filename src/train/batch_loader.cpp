#include "train/batch_loader.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>

namespace diffwave {

TrainingBatch make_batch(const Dataset& data, const std::vector<BatchItem>& items, int64_t crop, int hop, int n_mels,
                         bool unconditional, bool pin) {
  const auto b = static_cast<int64_t>(items.size());
  const int64_t samples = unconditional ? crop : crop * hop;
  auto opts = at::TensorOptions().dtype(at::kFloat).pinned_memory(pin);
  TrainingBatch batch;
  batch.audio = at::empty({b, samples}, opts);
  if (!unconditional) batch.mel = at::empty({b, n_mels, crop}, opts);
  batch.t = at::empty({b}, at::TensorOptions().dtype(at::kLong).pinned_memory(pin));
  batch.noise = at::empty({b, samples}, opts);
  for (int64_t k = 0; k < b; ++k) {
    const auto& item = items[static_cast<size_t>(k)];
    float* audio = batch.audio[k].data_ptr<float>();
    if (unconditional) data.read_samples(static_cast<size_t>(item.utterance), item.crop_offset, crop, audio);
    else data.read_crop(static_cast<size_t>(item.utterance), item.crop_offset, crop, audio, batch.mel[k].data_ptr<float>());
    batch.t[k] = item.diffusion_step;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(item.noise_seed);
    batch.noise[k].copy_(at::randn({samples}, gen));
  }
  return batch;
}

BatchLoader::BatchLoader(const Dataset& data, const BatchPlan& plan, int rank, int world, int64_t crop, int hop,
                         int n_mels, bool unconditional, int64_t first_step, int prefetch, bool pin)
    : data_(data), plan_(plan), rank_(rank), world_(world), hop_(hop), n_mels_(n_mels), crop_(crop),
      unconditional_(unconditional), pin_(pin), prefetch_(static_cast<size_t>(std::max(prefetch, 1))),
      next_step_(first_step) {
  thread_ = std::thread([this] { loop(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BatchLoader::loop() {
  int64_t step = next_step_;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || ready_.size() < prefetch_; });
      if (stop_) return;
    }
    try {
      auto batch = make_batch(data_, plan_.rank_slice(step, rank_, world_), crop_, hop_, n_mels_, unconditional_, pin_);
      batch.step = step++;
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.push_back(std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    cv_.notify_all();
  }
}

TrainingBatch BatchLoader::next(double* waited) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return !ready_.empty() || error_; });
  if (ready_.empty() && error_) std::rethrow_exception(error_);
  auto batch = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  cv_.notify_all();
  if (waited) *waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return batch;
}

}  // namespace diffwave
