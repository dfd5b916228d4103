#include "sample/batches.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <unordered_set>

#include "common/error.h"

namespace diffwave {

std::vector<std::vector<size_t>> make_batches(const std::vector<SampleItem>& items, int64_t max_batch) {
  if (max_batch <= 0) throw Error(fmt::format("batch size must be positive, not {}", max_batch));
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (items[a].length != items[b].length) return items[a].length < items[b].length;
    return items[a].id < items[b].id;
  });
  std::unordered_set<std::string> seen;
  for (const auto& item : items)
    if (!seen.insert(item.id).second)
      throw Error(fmt::format("utterance id '{}' appears twice in the input (it names an output file)", item.id));
  std::vector<std::vector<size_t>> batches;
  for (size_t k = 0; k < order.size(); ++k) {
    const bool extend = !batches.empty() && static_cast<int64_t>(batches.back().size()) < max_batch &&
                        items[batches.back().front()].length == items[order[k]].length;
    if (!extend) batches.emplace_back();
    batches.back().push_back(order[k]);
  }
  return batches;
}

std::vector<std::vector<size_t>> rank_batches(const std::vector<std::vector<size_t>>& batches, int rank, int world) {
  if (world <= 0 || rank < 0 || rank >= world) throw Error(fmt::format("rank {} of {} is not a valid rank", rank, world));
  std::vector<std::vector<size_t>> mine;
  for (size_t b = static_cast<size_t>(rank); b < batches.size(); b += static_cast<size_t>(world)) mine.push_back(batches[b]);
  return mine;
}

}  // namespace diffwave
