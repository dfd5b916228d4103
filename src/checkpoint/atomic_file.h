// Whole-file replacement that a crash cannot leave half done: a reader sees the old file or the
// new one. Checkpoints and their pointer files are written this way.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace diffwave {

// Writes `pieces` to PATH.tmp.PID, fsyncs it, renames it over `path` and fsyncs the folder.
// Throws DataError naming the file on any failure (a full disk included); the temporary is
// removed then.
void atomic_write(const std::string& path, const std::vector<std::pair<const void*, size_t>>& pieces);

}  // namespace diffwave
