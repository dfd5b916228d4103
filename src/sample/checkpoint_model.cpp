#include "sample/checkpoint_model.h"

#include <fmt/format.h>
#include <torch/utils.h>

#include "common/error.h"
#include "train/checkpoint.h"

namespace diffwave {

DiffWave make_model(const Config& config) {
  return DiffWave(DiffWaveOptions::from_config(config.model, config.audio.n_mels,
                                               static_cast<int64_t>(config.diffusion.noise_schedule.betas.size())));
}

CheckpointModel load_checkpoint_model(const std::string& run_dir_or_file, bool ema) {
  const auto path = CheckpointStore::resolve(run_dir_or_file);
  if (!path) throw DataError(fmt::format("{}: no checkpoint file, and no checkpoints/latest in it", run_dir_or_file));
  const auto ck = read_checkpoint(*path);
  CheckpointModel out;
  out.path = *path;
  out.config = Config::from_yaml(ck.meta("config"), *path + " (metadata 'config')");
  out.config.validate(0);
  out.step = ck.metadata.count("step") ? std::stoll(ck.meta("step")) : 0;
  out.ema = ema;
  out.model = make_model(out.config);
  const std::string prefix = ema ? "ema/" : "model/";
  torch::NoGradGuard no_grad;
  for (auto& p : out.model->named_parameters()) p.value().copy_(ck.tensor_like(prefix + p.key(), p.value()));
  out.model->eval();
  return out;
}

}  // namespace diffwave
