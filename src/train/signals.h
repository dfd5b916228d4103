// Preemption: SIGTERM and SIGUSR1 (Slurm's warning signal) only set a flag here; the trainer
// polls it, all ranks agree, checkpoint, and exit with kExitRequeue so the batch script knows to
// requeue. SIGINT asks for the same clean stop.
#pragma once
#include "distributed/group_watch.h"  // kExitStalled, the other early exit

namespace diffwave {

// Exit status of a run that stopped early on purpose (signal or --max-time) with its checkpoint
// written: "try again later" (EX_TEMPFAIL). cluster/*.sbatch requeue on it.
inline constexpr int kExitRequeue = 75;

void install_stop_signal_handlers();
// The signal number that asked for a stop, or 0.
int stop_signal();
void clear_stop_signal();  // for tests

}  // namespace diffwave
