// SPTK's C header, for the files that call libSPTK: it declares no extern "C" and uses FILE and
// size_t without including their headers. Include it in .cpp files only: it defines PI, ABS, etc.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include <mutex>

extern "C" {
#include <SPTK.h>
}

namespace diffwave {
// libSPTK keeps work buffers in static variables (mcep, window, ...), reused across calls: calls
// from several threads (diffwave-sample --streams) must take turns, or they share the buffers.
inline std::mutex& sptk_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace diffwave
