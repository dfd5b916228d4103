// Where a tool writes a file named from input (an utterance id, a path from a list, a shard's
// index): always inside the output folder the user gave, never over an input. No LibTorch here.
#pragma once
#include <string>
#include <vector>

namespace diffwave {

// `id` as a path relative to an output folder, mirroring its '/'-separated parts as folders:
// empty and "." parts are dropped (an absolute path is mirrored below the folder) and ".." parts
// become "__", so the result never leaves the folder. Throws DataError naming the id when nothing
// is left of it.
std::string output_relative_path(const std::string& id);

// base / output_relative_path(id) + extension for each id. Throws DataError naming the ids when
// two of them would share a file, or naming the id and the file when its output would be one of
// `inputs` (compared by identity, so a symbolic or hard link to an input counts as the input).
std::vector<std::string> output_paths(const std::string& base, const std::vector<std::string>& ids,
                                      const std::string& extension, const std::vector<std::string>& inputs);

}  // namespace diffwave
