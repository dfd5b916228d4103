// How diffwave-sample splits its work: batches whose composition depends only on the inputs
// and the batch size, dealt to ranks whole, so an utterance's output never depends on the
// number of ranks. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffwave {

struct SampleItem {
  std::string id;      // names the output file and seeds the item's noise
  int64_t length = 0;  // mel frames (conditional) or samples (unconditional)
};

// Sorts by (length, id) and cuts the order into batches of at most `max_batch` consecutive
// items of EQUAL length: rows are never padded, because padding would change the samples kept
// near the end (the convolutions would see padded activations instead of zeros). Returns item
// indices. Throws Error on a duplicate id.
std::vector<std::vector<size_t>> make_batches(const std::vector<SampleItem>& items, int64_t max_batch);

// Batches b with b % world == rank, in order.
std::vector<std::vector<size_t>> rank_batches(const std::vector<std::vector<size_t>>& batches, int rank, int world);

}  // namespace diffwave
