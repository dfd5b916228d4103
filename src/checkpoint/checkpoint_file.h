// Training checkpoints in the safetensors layout (an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and byte range plus string metadata, then raw bytes):
// loading parses JSON and copies bytes, never executes code, and Python's `safetensors` or a few
// lines of numpy read it. Files are written atomically (temporary file, fsync, rename, fsync of
// the folder); a CRC-32 of the data in the metadata catches corruption on load.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace diffwave {

inline constexpr const char* kCheckpointFormat = "diffwave-cpp-checkpoint-1";

struct Checkpoint {
  std::map<std::string, at::Tensor> tensors;         // CPU tensors, by name
  std::map<std::string, std::string> metadata;       // step, config, world size, ...
  std::string path;                                  // the file it was read from, for messages

  const at::Tensor& tensor(const std::string& name) const;  // throws DataError naming it
  // tensor(name), which must have the shape and dtype of `like`; throws DataError naming both.
  const at::Tensor& tensor_like(const std::string& name, const at::Tensor& like) const;
  const std::string& meta(const std::string& key) const;    // throws DataError naming it
};

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Checks the whole header (dtypes, shapes, byte ranges inside the file and apart, string
// metadata) before allocating a tensor; throws DataError naming the file and the tensor or key.
Checkpoint read_checkpoint(const std::string& path);

}  // namespace diffwave
