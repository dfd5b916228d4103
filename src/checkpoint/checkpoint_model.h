// A model ready to run, from one of our checkpoints: the architecture comes from the config
// stored in the checkpoint, never from the command line (lmnt issue #45).
#pragma once
#include <string>

#include "common/config.h"
#include "model/diffwave.h"

namespace diffwave {

struct CheckpointModel {
  std::string path;  // the checkpoint file that was read
  Config config;     // its stored, resolved config
  int64_t step = 0;
  bool ema = false;         // the EMA weights were loaded, not the trained ones
  DiffWave model{nullptr};  // on the CPU, in eval mode
};

// run_dir_or_file: a checkpoint file, or a run dir (its checkpoints/latest). ema: the EMA
// weights instead of the trained ones. Throws DataError naming the file and the tensor at fault.
CheckpointModel load_checkpoint_model(const std::string& run_dir_or_file, bool ema);

// The model a config describes, freshly initialised.
DiffWave make_model(const Config& config);

}  // namespace diffwave
