// Everything a training run needs to continue where it stopped, and the one place that knows how
// each part is named inside a checkpoint file (tensors "model/NAME", "ema/NAME",
// "adam/exp_avg/NAME", "adam/exp_avg_sq/NAME", "rng/cpu"; metadata "step", "config", ...). The
// trainer saves and restores its live tensors through it; the lmnt importer fills a fresh one;
// samplers and the exporter read the weights with load_weights.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_file.h"
#include "common/config.h"

namespace diffwave {

struct TrainState {
  // Parameter names in the model's order, and per name the weights, their EMA and Adam's moments:
  // the trainer's live tensors (restore() copies into them) or fresh ones (the importer's).
  std::vector<std::string> names;
  std::vector<at::Tensor> weights, ema, exp_avg, exp_avg_sq;
  int64_t step = 0;           // optimiser steps taken, skipped ones included; the data cursor
  int64_t epoch = 0;          // for people reading the file: the batch plan derives it from step
  int64_t adam_steps = 0;     // Adam's (and the EMA's) update count: skipped steps do not count
  int64_t skipped_steps = 0;  // steps skipped for a non-finite gradient norm
  double last_loss = 0;
  int world_size = 1;        // ranks of the run that wrote it (a resume may use another number)
  at::Tensor cpu_rng;        // the default CPU generator's state
  Config config;             // the run's resolved config
  std::map<std::string, std::string> extra;  // more metadata to keep (imported_from, ...)

  // A fresh state for `config`'s model with `weights` (name -> tensor) as both the weights and
  // their EMA: zero moments, step 0, a CPU generator seeded as a new run's.
  static TrainState fresh(const Config& config, const std::vector<std::string>& names,
                          const std::vector<at::Tensor>& weights);

  Checkpoint to_checkpoint() const;
  // Copies `ck` into this state's tensors (each must have its tensor's shape and dtype exactly)
  // and scalars. Refuses, naming key and file, a checkpoint whose model, mel, noise schedule or
  // loss differ from `config` (model.kernels only picks an implementation and may differ).
  void restore(const Checkpoint& ck);
};

// The config a checkpoint was written with.
Config stored_config(const Checkpoint& ck);
// The stored step, 0 when the file has none.
int64_t stored_step(const Checkpoint& ck);
// The trained (ema = false) or EMA weights of `ck` into `params` (name -> tensor), in place.
void load_weights(const Checkpoint& ck, bool ema, const std::vector<std::pair<std::string, at::Tensor>>& params);

}  // namespace diffwave
