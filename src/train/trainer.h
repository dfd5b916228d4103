// The training loop of diffwave-train: one rank of a data-parallel job (or the whole job when run
// alone). Knows ranks only through the process group and the communicator.
#pragma once
#include <string>

#include "common/config.h"

namespace diffwave {

class ProcessGroup;

// Trains on the prepared corpus in data_dir, writing checkpoints and TensorBoard files to
// run_dir, resuming from run_dir's latest checkpoint when there is one. Returns the exit code:
// 0 when train.max_steps is reached, kExitRequeue after a stop signal or train.max_time (with a
// checkpoint written). Throws Error on bad input; a stalled collective ends the job itself.
int train(const Config& config, const std::string& data_dir, const std::string& run_dir, ProcessGroup& group);

}  // namespace diffwave
