// diffwave-train: one rank of a data-parallel training job (mpirun / srun), or a whole job alone.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "common/build_info.h"
#include "common/config.h"
#include "common/error.h"
#include "common/host_memory.h"
#include "distributed/process_group.h"
#include "model/diffwave.h"
#include "train/signals.h"
#include "train/trainer.h"

static std::string with_commas(int64_t n) {
  auto digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

int main(int argc, char** argv) {
  diffwave::tune_host_allocator();  // before the first large tensor
  CLI::App app{"Train DiffWave on a corpus prepared by diffwave-prep. Launch one process per GPU with mpirun or "
               "srun (CPU ranks when no GPU is visible), or run it alone. Resumes from RUN_DIR's latest checkpoint.\n"
               "Exit codes: 0 done, " + std::to_string(diffwave::kExitRequeue) +
               " stopped by a signal or --max-time with a checkpoint written (requeue), " +
               std::to_string(diffwave::kExitStalled) + " a rank stalled or died, 1 error."};
  std::string config_path, data_dir, run_dir;
  std::vector<std::string> overrides;
  bool dry_run = false;
  app.add_option("--config", config_path, "YAML config (configs/base.yaml, large, unconditional, tiny)")
      ->check(CLI::ExistingFile);
  app.add_option("--data", data_dir, "diffwave-prep output folder (manifest.json + shards/)");
  app.add_option("--run-dir", run_dir, "folder for checkpoints, TensorBoard files and heartbeats");
  app.add_option("--set", overrides, "override a config key, e.g. --set train.batch_size=32 (repeatable)")
      ->allow_extra_args(false);
  // Shortcuts for the train.* keys most runs set; they win over --set.
  std::vector<std::pair<std::string, std::string>> shortcuts;
  auto shortcut = [&](const char* flag, const char* key, const char* help) {
    app.add_option_function<std::string>(flag, [&, key](const std::string& v) { shortcuts.emplace_back(key, v); },
                                         fmt::format("{} (train.{})", help, key))
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  };
  shortcut("--max-steps", "max_steps", "stop after this many optimiser steps");
  shortcut("--checkpoint-interval", "checkpoint_interval", "steps between checkpoints");
  shortcut("--log-interval", "log_interval", "steps between progress lines and TensorBoard scalars");
  shortcut("--comm-timeout", "comm_timeout", "seconds a collective may stall before the whole job is ended");
  shortcut("--max-time", "max_time", "wall-clock seconds, then checkpoint and exit for requeue");
  shortcut("--device", "device", "auto, cuda or cpu");
  app.add_flag("--dry-run", dry_run, "print the resolved config and the parameter count, then exit");
  app.set_version_flag("--version", diffwave::build_summary());
  CLI11_PARSE(app, argc, argv);
  for (const auto& [key, value] : shortcuts) overrides.push_back("train." + key + "=" + value);

  auto& group = diffwave::ProcessGroup::world();
  try {
    auto config = diffwave::Config::load(config_path, overrides);
    config.validate(group.size());
    if (dry_run) {
      diffwave::DiffWave model(diffwave::DiffWaveOptions::from_config(
          config.model, config.audio.n_mels, static_cast<int64_t>(config.diffusion.noise_schedule.betas.size())));
      if (group.is_root())
        std::cout << "# resolved config" << (config_path.empty() ? "" : " from " + config_path) << "\n"
                  << config.to_yaml() << "# parameters: " << with_commas(model->parameter_count()) << "\n"
                  << "# ranks: " << group.size() << "\n# " << diffwave::build_summary() << "\n";
      return 0;
    }
    if (data_dir.empty() || run_dir.empty())
      throw diffwave::ConfigError("--data and --run-dir are required (or --dry-run); see --help");
    return diffwave::train(config, data_dir, run_dir, group);
  } catch (const std::exception& e) {
    const auto message = fmt::format("diffwave-train: error: {}", e.what());
    if (group.size() > 1) group.abort(message, 1);  // never leave the other ranks waiting
    std::cerr << message << "\n";
    return 1;
  }
}
