#include "common/host_memory.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace diffwave {

bool tune_host_allocator() {
#if defined(__GLIBC__)
  const char* off = std::getenv("DIFFWAVE_MALLOC_TUNING");
  if (off && std::strcmp(off, "0") == 0) return false;
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return false;
  const bool threshold = mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1;
  const bool trim = mallopt(M_TRIM_THRESHOLD, static_cast<int>(0x7fffffff)) == 1;  // ~2 GiB: int-sized
  return threshold && trim;
#else
  return false;
#endif
}

}  // namespace diffwave
