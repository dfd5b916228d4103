// Noise-schedule arithmetic in double precision, as lmnt does it in numpy. No LibTorch here.
#pragma once
#include <vector>

namespace diffwave {

// beta_t, alpha_t = 1 - beta_t and alpha_bar_t = prod_{s<=t} alpha_s for t = 0..T-1.
struct NoiseSchedule {
  std::vector<double> betas, alphas, alpha_bar;
  explicit NoiseSchedule(std::vector<double> betas);
  int steps() const { return static_cast<int>(betas.size()); }
};

// For each step s of an inference schedule, the continuous training step T_s whose noise level
// matches gamma_bar_s (paper v3, appendix B; lmnt's `--fast`). Throws Error naming the step
// when gamma_bar_s lies outside the training range, where lmnt silently drops the step.
std::vector<double> align_inference_steps(const NoiseSchedule& train, const std::vector<double>& inference_betas);

}  // namespace diffwave
