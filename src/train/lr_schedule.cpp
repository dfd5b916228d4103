#include "train/lr_schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace diffwave {

double LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) return peak * static_cast<double>(step + 1) / warmup_steps;
  if (decay == Decay::constant || total_steps <= warmup_steps) return peak;
  const double progress =
      std::clamp(static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps), 0.0, 1.0);
  if (decay == Decay::linear) return floor + (peak - floor) * (1.0 - progress);
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

LrSchedule::Decay LrSchedule::parse(const std::string& name) {
  if (name == "constant") return Decay::constant;
  if (name == "linear") return Decay::linear;
  if (name == "cosine") return Decay::cosine;
  throw ConfigError(fmt::format("unknown learning-rate decay '{}': expected constant, linear or cosine", name));
}

}  // namespace diffwave
