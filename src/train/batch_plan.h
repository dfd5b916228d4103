// Which utterances, crops, diffusion steps and noise seeds make up each global batch. A pure
// function of (seed, step) and the dataset, so the training trajectory does not depend on the
// number of ranks, and resuming at any step needs only the step number. No LibTorch here.
#pragma once
#include <cstdint>
#include <vector>

namespace diffwave {

struct BatchItem {
  int64_t utterance;       // index into the dataset given to the plan
  int64_t crop_offset;     // first frame (or sample, for unconditional data) of the crop
  int64_t diffusion_step;  // t in [0, T)
  uint64_t noise_seed;     // seeds this item's Gaussian noise, whatever rank draws it
};

class BatchPlan {
 public:
  // lengths: per utterance, in crop units; utterances shorter than `crop` are never drawn.
  BatchPlan(std::vector<int64_t> lengths, int64_t batch_size, int64_t crop, int64_t diffusion_steps, uint64_t seed);

  int64_t steps_per_epoch() const { return static_cast<int64_t>(eligible_.size()) / batch_size_; }
  int64_t epoch_of(int64_t step) const { return step / steps_per_epoch(); }
  // The whole global batch at `step` (0-based, counted over all epochs): each epoch is a fresh
  // permutation of the eligible utterances, the remainder that does not fill a batch is dropped.
  std::vector<BatchItem> global_batch(int64_t step) const;
  // This rank's contiguous part of the global batch; batch_size must divide by world.
  std::vector<BatchItem> rank_slice(int64_t step, int rank, int world) const;

 private:
  const std::vector<int64_t>& permutation(int64_t epoch) const;

  std::vector<int64_t> lengths_, eligible_;
  int64_t batch_size_, crop_, diffusion_steps_;
  uint64_t seed_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

}  // namespace diffwave
