// lmnt-com/diffwave weight files (weights-N.pt, or what diffwave-export wrote) as our
// checkpoints, for sampling and for fine-tuning with diffwave-train.
#pragma once
#include <ATen/core/ivalue.h>

#include <optional>
#include <string>

#include "common/config.h"
#include "checkpoint/checkpoint_file.h"

namespace diffwave {

// The Python step that turns lmnt's own files (their `params` is a pickled AttrDict, a Python
// class C++ cannot rebuild) into plain dicts; error messages quote it.
std::string lmnt_strip_command(const std::string& in_path);

// Our config from lmnt's params dict: its keys override lmnt's defaults (= ours); unknown keys
// are ignored; the upsampler factors are read from the state dict's kernel widths.
Config config_from_lmnt(const c10::impl::GenericDict& params, const c10::impl::GenericDict& state,
                        const std::string& source);

// Reads `path` (torch.save zip layout, a dict with "model" and optionally "params" and "step"),
// builds a checkpoint whose model and EMA weights are the file's, with a zero optimiser state at
// step 0, so diffwave-train resumes from it as a fresh fine-tuning run. config_path: our YAML
// config to use instead of the file's params (the weights must fit it). Throws DataError naming
// the file and the tensor or key at fault.
Checkpoint import_lmnt(const std::string& path, const std::optional<std::string>& config_path);

}  // namespace diffwave
