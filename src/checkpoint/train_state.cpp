#include "checkpoint/train_state.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/utils.h>

#include "common/error.h"

namespace diffwave {

namespace {

constexpr const char* kWeights = "model/";
constexpr const char* kEma = "ema/";
constexpr const char* kExpAvg = "adam/exp_avg/";
constexpr const char* kExpAvgSq = "adam/exp_avg_sq/";
constexpr const char* kCpuRng = "rng/cpu";

int64_t integer(const Checkpoint& ck, const std::string& key) {
  const auto& text = ck.meta(key);
  try {
    size_t used = 0;
    const auto value = std::stoll(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw DataError(fmt::format("{}: metadata '{}' is '{}', not an integer", ck.path, key, text));
}

// The keys that decide what a checkpoint's weights mean: the architecture, the mel they are
// conditioned on, the noise schedule they denoise and the loss they minimise. They must match to
// resume (model.kernels only picks an implementation).
void check_compatible(const Config& stored, const Config& now, const std::string& path) {
  auto fail = [&](const char* key, const std::string& was, const std::string& is) {
    throw ConfigError(fmt::format("{}: checkpoint was trained with {} = {}, but {} has {}; use a new run dir or "
                                  "the checkpoint's value",
                                  path, key, was, now.origin_of(key), is));
  };
  const auto &a = stored.model, &b = now.model;
  if (a.residual_channels != b.residual_channels)
    fail("model.residual_channels", std::to_string(a.residual_channels), std::to_string(b.residual_channels));
  if (a.residual_layers != b.residual_layers)
    fail("model.residual_layers", std::to_string(a.residual_layers), std::to_string(b.residual_layers));
  if (a.dilation_cycle_length != b.dilation_cycle_length)
    fail("model.dilation_cycle_length", std::to_string(a.dilation_cycle_length), std::to_string(b.dilation_cycle_length));
  if (a.unconditional != b.unconditional)
    fail("model.unconditional", a.unconditional ? "true" : "false", b.unconditional ? "true" : "false");
  if (a.upsample_factors != b.upsample_factors)
    fail("model.upsample_factors", fmt::format("{}", fmt::join(a.upsample_factors, ",")),
         fmt::format("{}", fmt::join(b.upsample_factors, ",")));
  if (stored.audio.n_mels != now.audio.n_mels)
    fail("audio.n_mels", std::to_string(stored.audio.n_mels), std::to_string(now.audio.n_mels));
  const auto &was = stored.diffusion.noise_schedule.betas, &is = now.diffusion.noise_schedule.betas;
  if (was.size() != is.size())
    fail("diffusion.noise_schedule", std::to_string(was.size()) + " steps", std::to_string(is.size()) + " steps");
  for (size_t i = 0; i < was.size(); ++i)
    if (was[i] != is[i])
      fail("diffusion.noise_schedule", fmt::format("beta {} of step {}", was[i], i), fmt::format("beta {}", is[i]));
  if (stored.diffusion.loss != now.diffusion.loss) fail("diffusion.loss", stored.diffusion.loss, now.diffusion.loss);
}

}  // namespace

TrainState TrainState::fresh(const Config& config, const std::vector<std::string>& names,
                             const std::vector<at::Tensor>& weights) {
  TrainState s;
  s.names = names;
  for (const auto& w : weights) {
    const auto t = w.detach().to(at::kFloat).contiguous().clone();
    s.weights.push_back(t);
    s.ema.push_back(t.clone());
    s.exp_avg.push_back(at::zeros_like(t));
    s.exp_avg_sq.push_back(at::zeros_like(t));
  }
  s.last_loss = std::nan("");
  // A resume restores the default generator from this: a fresh one, seeded as a new run is.
  s.cpu_rng = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config.train.seed)).get_state();
  s.config = config;
  return s;
}

Checkpoint TrainState::to_checkpoint() const {
  Checkpoint ck;
  for (size_t i = 0; i < names.size(); ++i) {
    ck.tensors[kWeights + names[i]] = weights[i].detach().cpu();
    ck.tensors[kEma + names[i]] = ema[i].detach().cpu();
    ck.tensors[kExpAvg + names[i]] = exp_avg[i].detach().cpu();
    ck.tensors[kExpAvgSq + names[i]] = exp_avg_sq[i].detach().cpu();
  }
  ck.tensors[kCpuRng] = cpu_rng;
  ck.metadata = extra;
  ck.metadata["step"] = std::to_string(step);
  ck.metadata["epoch"] = std::to_string(epoch);
  ck.metadata["data_cursor"] = std::to_string(step);  // global batches consumed; the plan is a function of it
  ck.metadata["adam_steps"] = std::to_string(adam_steps);
  ck.metadata["skipped_steps"] = std::to_string(skipped_steps);
  ck.metadata["last_loss"] = fmt::format("{:.17g}", last_loss);
  ck.metadata["world_size"] = std::to_string(world_size);
  ck.metadata["code_version"] = DIFFWAVE_VERSION;
  ck.metadata["config"] = config.to_yaml();
  return ck;
}

void TrainState::restore(const Checkpoint& ck) {
  check_compatible(stored_config(ck), config, ck.path);
  torch::NoGradGuard no_grad;
  // copy_ would broadcast a mis-shaped tensor and convert another dtype: each must fit exactly.
  for (size_t i = 0; i < names.size(); ++i)
    for (auto [prefix, target] : {std::pair{kWeights, &weights[i]}, {kEma, &ema[i]}, {kExpAvg, &exp_avg[i]},
                                  {kExpAvgSq, &exp_avg_sq[i]}})
      target->copy_(ck.tensor_like(prefix + names[i], *target));
  adam_steps = integer(ck, "adam_steps");
  step = integer(ck, "step");
  skipped_steps = integer(ck, "skipped_steps");
  epoch = ck.metadata.count("epoch") ? integer(ck, "epoch") : 0;
  world_size = static_cast<int>(integer(ck, "world_size"));
  cpu_rng = ck.tensor(kCpuRng);
}

Config stored_config(const Checkpoint& ck) { return Config::from_yaml(ck.meta("config"), ck.path + " (metadata 'config')"); }

int64_t stored_step(const Checkpoint& ck) { return ck.metadata.count("step") ? integer(ck, "step") : 0; }

void load_weights(const Checkpoint& ck, bool ema, const std::vector<std::pair<std::string, at::Tensor>>& params) {
  torch::NoGradGuard no_grad;
  const std::string prefix = ema ? kEma : kWeights;
  for (const auto& [name, p] : params) at::Tensor(p).copy_(ck.tensor_like(prefix + name, p));
}

}  // namespace diffwave
