// Where a run keeps its checkpoints, and which one a resume or a sampler reads.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "checkpoint/checkpoint_file.h"

namespace diffwave {

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
