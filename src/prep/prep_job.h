// The diffwave-prep pipeline, run by every rank: discover the corpus (rank 0), split it
// round-robin over ranks, decode and check each input, drop duplicates across ranks, compute
// mels and write this rank's shards; rank 0 then writes OUT/manifest.json and OUT/report.tsv.
// See src/prep/README.md for the layout of OUT and the resume rules.
#pragma once
#include <string>
#include <vector>

namespace diffwave {
class ProcessGroup;
}

namespace diffwave::prep {

struct PrepOptions {
  std::string input, output, config_path;
  std::vector<std::string> overrides;  // --set key=value
  bool force = false;                  // discard an OUT made from other inputs or config
  // Inputs each rank decodes before ranks exchange content hashes (the duplicate check).
  int files_per_round = 16;
  // Seconds a rank may wait in a collective while no other rank shows progress (GroupWatch).
  double comm_timeout = 600;
};

// Returns the exit code, the same on every rank: 0 when something usable was written (or OUT
// was already up to date), 1 when no input was usable, 2 on a usage or config error.
// Output errors (disk full, no permission) end the whole job through ProcessGroup::abort.
int run_prep(const PrepOptions& options, ProcessGroup& group);

}  // namespace diffwave::prep
