// Learning-rate schedules for the trainer. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>

namespace diffwave {

// Learning rate at a step: linear warmup to `peak`, then constant, linear or cosine decay to
// `floor` at `total_steps`.
struct LrSchedule {
  double peak = 2e-4, floor = 0.0;
  int64_t warmup_steps = 0, total_steps = 0;
  enum class Decay { constant, linear, cosine } decay = Decay::constant;
  double at(int64_t step) const;
  static Decay parse(const std::string& name);  // throws ConfigError
};

}  // namespace diffwave
