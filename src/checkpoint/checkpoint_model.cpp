#include "checkpoint/checkpoint_model.h"

#include <fmt/format.h>

#include "common/error.h"
#include "checkpoint/checkpoint_store.h"
#include "checkpoint/train_state.h"

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
  out.config = stored_config(ck);
  out.config.validate(0);
  out.step = stored_step(ck);
  out.ema = ema;
  out.model = make_model(out.config);
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (auto& p : out.model->named_parameters()) params.emplace_back(p.key(), p.value());
  load_weights(ck, ema, params);
  out.model->eval();
  return out;
}

}  // namespace diffwave
