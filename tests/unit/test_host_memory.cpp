// The allocator tuning keeps large freed blocks in the heap instead of unmapping them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "common/host_memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DIFFWAVE_SANITIZER_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DIFFWAVE_SANITIZER_MALLOC 1
#endif
#endif

TEST(HostMemory, LargeBlocksComeFromTheHeapAfterTuning) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "glibc only";
#elif defined(DIFFWAVE_SANITIZER_MALLOC)
  GTEST_SKIP() << "a sanitizer's allocator replaces glibc's malloc: there is nothing to tune (tests/sanitize.sh)";
#else
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_"))
    GTEST_SKIP() << "the user's MALLOC_* settings are left alone";
  const size_t bytes = size_t{40} << 20;  // above glibc's largest default mmap threshold (32 MiB)
  auto mapped_for = [&] {
    const size_t before = mallinfo2().hblkhd;
    void* volatile p = std::malloc(bytes);  // volatile: the compiler may not elide the pair
    std::memset(p, 1, bytes);
    const size_t during = mallinfo2().hblkhd;
    std::free(p);
    return during - before;
  };
  EXPECT_GE(mapped_for(), bytes) << "untuned glibc maps a 40 MiB block by itself";
  ASSERT_TRUE(diffwave::tune_host_allocator());
  EXPECT_EQ(mapped_for(), 0u) << "after tuning the block must come from the heap";
  setenv("DIFFWAVE_MALLOC_TUNING", "0", 1);
  EXPECT_FALSE(diffwave::tune_host_allocator());
  unsetenv("DIFFWAVE_MALLOC_TUNING");
#endif
}
