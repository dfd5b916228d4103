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

// A run's checkpoints: <run_dir>/checkpoints/step-<N>.safetensors, a `latest` pointer file
// updated only after the file it names is complete, the last `keep` kept plus the best one by
// validation loss. Opening a store removes the temporaries of writers that died mid-file.
class CheckpointStore {
 public:
  CheckpointStore(std::string run_dir, int keep);
  // Writes, points `latest` at it, then prunes. Returns the file's path.
  std::string save(int64_t step, const Checkpoint& checkpoint, std::optional<double> validation_loss = {});
  // The file `latest` names, if any (a file or a run dir given by the user are both accepted).
  std::optional<std::string> latest() const;
  static std::optional<std::string> resolve(const std::string& run_dir_or_file);

  const std::string& dir() const { return dir_; }

 private:
  void prune();
  void remove_stale_temporaries() const;
  std::string dir_;
  int keep_;
};

}  // namespace diffwave
