#include "train/batch_plan.h"

#include <fmt/format.h>

#include <random>

#include "common/error.h"
#include "common/seeds.h"

namespace diffwave {

namespace {

// Uniform in [0, n) by rejection: exact, and the same on every platform (unlike
// std::uniform_int_distribution, whose algorithm the standard leaves open).
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % n;
}

enum Stream : uint64_t { kShuffle = 1, kItem = 2, kNoise = 3 };

}  // namespace

BatchPlan::BatchPlan(std::vector<int64_t> lengths, int64_t batch_size, int64_t crop, int64_t diffusion_steps,
                     uint64_t seed)
    : lengths_(std::move(lengths)), batch_size_(batch_size), crop_(crop), diffusion_steps_(diffusion_steps), seed_(seed) {
  if (batch_size_ <= 0 || crop_ <= 0 || diffusion_steps_ <= 0)
    throw Error("batch plan: batch size, crop and diffusion steps must be positive");
  for (size_t i = 0; i < lengths_.size(); ++i)
    if (lengths_[i] >= crop_) eligible_.push_back(static_cast<int64_t>(i));
  if (steps_per_epoch() == 0)
    throw Error(fmt::format("batch plan: {} of {} utterances are at least {} long, fewer than one batch of {}",
                            eligible_.size(), lengths_.size(), crop_, batch_size_));
}

const std::vector<int64_t>& BatchPlan::permutation(int64_t epoch) const {
  if (epoch != cached_epoch_) {
    cached_order_ = eligible_;
    std::mt19937_64 rng(mix_seed({seed_, kShuffle, static_cast<uint64_t>(epoch)}));
    for (size_t i = cached_order_.size(); i > 1; --i) std::swap(cached_order_[i - 1], cached_order_[uniform_below(rng, i)]);
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

std::vector<BatchItem> BatchPlan::global_batch(int64_t step) const {
  const auto& order = permutation(epoch_of(step));
  const int64_t first = (step % steps_per_epoch()) * batch_size_;
  std::vector<BatchItem> batch;
  for (int64_t slot = 0; slot < batch_size_; ++slot) {
    const int64_t u = order[static_cast<size_t>(first + slot)];
    std::mt19937_64 rng(mix_seed({seed_, kItem, static_cast<uint64_t>(step), static_cast<uint64_t>(slot)}));
    const auto room = static_cast<uint64_t>(lengths_[static_cast<size_t>(u)] - crop_ + 1);
    BatchItem item;
    item.utterance = u;
    item.crop_offset = static_cast<int64_t>(uniform_below(rng, room));
    item.diffusion_step = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(diffusion_steps_)));
    item.noise_seed = mix_seed({seed_, kNoise, static_cast<uint64_t>(step), static_cast<uint64_t>(slot)});
    batch.push_back(item);
  }
  return batch;
}

std::vector<BatchItem> BatchPlan::rank_slice(int64_t step, int rank, int world) const {
  if (world <= 0 || rank < 0 || rank >= world || batch_size_ % world != 0)
    throw Error(fmt::format("batch plan: cannot split a batch of {} over rank {} of {}", batch_size_, rank, world));
  auto batch = global_batch(step);
  const int64_t per_rank = batch_size_ / world;
  return {batch.begin() + rank * per_rank, batch.begin() + (rank + 1) * per_rank};
}

}  // namespace diffwave
