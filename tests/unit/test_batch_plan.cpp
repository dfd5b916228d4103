#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/error.h"
#include "train/batch_plan.h"

using namespace diffwave;

namespace {
std::vector<int64_t> lengths(int n) {
  std::vector<int64_t> l;
  for (int i = 0; i < n; ++i) l.push_back(10 + (i * 37) % 90);  // 10..99 frames
  return l;
}
bool same(const BatchItem& a, const BatchItem& b) {
  return a.utterance == b.utterance && a.crop_offset == b.crop_offset && a.diffusion_step == b.diffusion_step &&
         a.noise_seed == b.noise_seed;
}
}  // namespace

TEST(BatchPlan, EachEpochVisitsEveryEligibleUtteranceOnce) {
  auto l = lengths(103);
  BatchPlan plan(l, 8, 20, 50, 7);
  const int64_t eligible = std::count_if(l.begin(), l.end(), [](int64_t x) { return x >= 20; });
  EXPECT_EQ(plan.steps_per_epoch(), eligible / 8);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::set<int64_t> seen;
    for (int64_t s = 0; s < plan.steps_per_epoch(); ++s)
      for (const auto& item : plan.global_batch(epoch * plan.steps_per_epoch() + s)) {
        EXPECT_TRUE(seen.insert(item.utterance).second) << "utterance repeated within epoch " << epoch;
        EXPECT_GE(l[item.utterance], 20);
        EXPECT_GE(item.crop_offset, 0);
        EXPECT_LE(item.crop_offset + 20, l[item.utterance]);
        EXPECT_GE(item.diffusion_step, 0);
        EXPECT_LT(item.diffusion_step, 50);
      }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), plan.steps_per_epoch() * 8);
  }
}

TEST(BatchPlan, EpochsAreReshuffled) {
  BatchPlan plan(lengths(64), 8, 5, 50, 1);
  std::vector<int64_t> first, second;
  for (const auto& item : plan.global_batch(0)) first.push_back(item.utterance);
  for (const auto& item : plan.global_batch(plan.steps_per_epoch())) second.push_back(item.utterance);
  EXPECT_NE(first, second);
}

TEST(BatchPlan, DependsOnlyOnSeedAndStep) {
  BatchPlan a(lengths(50), 4, 10, 50, 99), b(lengths(50), 4, 10, 50, 99), c(lengths(50), 4, 10, 50, 100);
  // b jumps straight to step 37 (a resumed run); a walks there.
  for (int64_t s = 0; s < 37; ++s) a.global_batch(s);
  auto x = a.global_batch(37), y = b.global_batch(37), z = c.global_batch(37);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_TRUE(same(x[i], y[i]));
  EXPECT_FALSE(std::equal(x.begin(), x.end(), z.begin(), same));
}

TEST(BatchPlan, RankSlicesPartitionTheGlobalBatch) {
  BatchPlan plan(lengths(80), 12, 10, 50, 3);
  for (int world : {1, 2, 3, 4, 6}) {
    std::vector<BatchItem> joined;
    for (int r = 0; r < world; ++r) {
      auto part = plan.rank_slice(5, r, world);
      EXPECT_EQ(static_cast<int>(part.size()), 12 / world);
      joined.insert(joined.end(), part.begin(), part.end());
    }
    auto whole = plan.global_batch(5);
    ASSERT_EQ(joined.size(), whole.size());
    for (size_t i = 0; i < whole.size(); ++i) EXPECT_TRUE(same(joined[i], whole[i])) << world;
  }
  EXPECT_THROW(plan.rank_slice(0, 0, 5), Error);
}

TEST(BatchPlan, TooFewLongUtterancesIsAnError) {
  EXPECT_THROW(BatchPlan({5, 6, 100}, 2, 50, 50, 0), Error);
}
