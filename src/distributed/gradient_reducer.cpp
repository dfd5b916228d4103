#include "distributed/gradient_reducer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/error.h"

namespace diffwave {

namespace {
constexpr size_t kFirstBucketBytes = size_t{1} << 20;
}  // namespace

GradientReducer::GradientReducer(std::vector<at::Tensor> params, Communicator& comm, size_t bucket_cap_bytes)
    : params_(std::move(params)), comm_(comm), where_(params_.size()), seen_(params_.size(), false) {
  // Every rank derives the same buckets from the same parameter list.
  size_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    if (p.scalar_type() != at::kFloat) throw Error("gradient reducer: parameters must be float32");
    const size_t p_bytes = static_cast<size_t>(p.numel()) * sizeof(float);
    // The first bucket is kept small (as DDP does) so that communication starts early in backward.
    const size_t cap = buckets_.size() <= 1 ? std::min(bucket_cap_bytes, kFirstBucketBytes) : bucket_cap_bytes;
    if (buckets_.empty() || (bytes + p_bytes > cap && !buckets_.back().params.empty())) {
      buckets_.emplace_back();
      bytes = 0;
    }
    auto& b = buckets_.back();
    where_[k] = {buckets_.size() - 1, b.params.size()};
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params_[b.params.back()].numel());
    b.params.push_back(k);
    bytes += p_bytes;
  }
  for (auto& b : buckets_) {
    const int64_t numel = b.offsets.back() + params_[b.params.back()].numel();
    b.flat = at::zeros({numel}, params_[b.params.front()].options());
  }
  for (size_t k = 0; k < params_.size(); ++k)
    params_[k].register_hook([this, k](const at::TensorBase& grad) { on_gradient(k, at::Tensor(grad)); });
  worker_ = std::thread([this] { comm_loop(); });
}

GradientReducer::~GradientReducer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void GradientReducer::prepare(bool sync) {
  std::lock_guard<std::mutex> lock(mutex_);
  sync_ = sync;
}

void GradientReducer::on_gradient(size_t k, const at::Tensor& grad) {
  if (!sync_) return;
  const auto [bi, slot] = where_[k];
  auto& b = buckets_[bi];
  auto slice = b.flat.narrow(0, b.offsets[slot], params_[k].numel());
  // The hook sees this backward's gradient before it is added to .grad(), so earlier
  // micro-steps' accumulation is added here.
  const auto& previous = params_[k].grad();
  if (previous.defined()) at::add_out(slice, previous.reshape(-1), grad.reshape(-1));
  else slice.copy_(grad.reshape(-1));
  std::lock_guard<std::mutex> lock(mutex_);
  if (!seen_[k]) {
    seen_[k] = true;
    ++b.ready;
  }
  launch_ready_buckets();
}

void GradientReducer::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].ready == buckets_[next_launch_].params.size()) {
    queue_.push_back(next_launch_++);
    cv_.notify_all();
  }
}

void GradientReducer::comm_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop requested and nothing left
    const size_t bi = queue_.front();
    queue_.pop_front();
    lock.unlock();
    try {
      comm_.all_reduce_mean(buckets_[bi].flat);
    } catch (...) {
      lock.lock();
      if (!error_) error_ = std::current_exception();
      ++done_;
      cv_.notify_all();
      continue;
    }
    lock.lock();
    ++done_;
    cv_.notify_all();
  }
}

void GradientReducer::finish() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  last_wait_ = 0;
  if (!sync_) return;
  // A parameter that took no part in this backward still contributes what it has (or zeros),
  // so that every rank reduces every bucket.
  for (size_t k = 0; k < params_.size(); ++k) {
    if (seen_[k]) continue;
    const auto [bi, slot] = where_[k];
    auto slice = buckets_[bi].flat.narrow(0, buckets_[bi].offsets[slot], params_[k].numel());
    if (params_[k].grad().defined()) slice.copy_(params_[k].grad().reshape(-1));
    else slice.zero_();
    seen_[k] = true;
    ++buckets_[bi].ready;
  }
  launch_ready_buckets();
  cv_.wait(lock, [this] { return done_ == buckets_.size(); });
  auto error = std::exchange(error_, nullptr);
  for (auto& b : buckets_) b.ready = 0;
  std::fill(seen_.begin(), seen_.end(), false);
  next_launch_ = 0;
  done_ = 0;
  sync_ = false;
  lock.unlock();
  if (error) std::rethrow_exception(error);
  comm_.synchronize();
  last_wait_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t k = 0; k < params_.size(); ++k) {
    const auto [bi, slot] = where_[k];
    auto averaged = buckets_[bi].flat.narrow(0, buckets_[bi].offsets[slot], params_[k].numel()).view(params_[k].sizes());
    if (params_[k].grad().defined()) params_[k].mutable_grad().copy_(averaged);
    else params_[k].mutable_grad() = averaged.clone();
  }
}

}  // namespace diffwave
