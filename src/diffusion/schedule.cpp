#include "diffusion/schedule.h"

#include <fmt/format.h>

#include <cmath>

#include "common/error.h"

namespace diffwave {

NoiseSchedule::NoiseSchedule(std::vector<double> b) : betas(std::move(b)) {
  double cum = 1.0;
  for (double beta : betas) {
    alphas.push_back(1.0 - beta);
    cum *= 1.0 - beta;
    alpha_bar.push_back(cum);
  }
}

std::vector<double> align_inference_steps(const NoiseSchedule& train, const std::vector<double>& inference_betas) {
  const NoiseSchedule inf(inference_betas);
  const auto& ab = train.alpha_bar;
  std::vector<double> aligned;
  for (size_t s = 0; s < inf.alpha_bar.size(); ++s) {
    const double g = inf.alpha_bar[s];
    bool found = false;
    for (size_t t = 0; t + 1 < ab.size(); ++t) {
      if (ab[t + 1] <= g && g <= ab[t]) {
        const double twiddle = (std::sqrt(ab[t]) - std::sqrt(g)) / (std::sqrt(ab[t]) - std::sqrt(ab[t + 1]));
        aligned.push_back(static_cast<double>(t) + twiddle);
        found = true;
        break;
      }
    }
    if (!found)
      throw Error(fmt::format(
          "inference step {} (beta {}) has noise level gamma_bar = {:.6g}, outside the training "
          "schedule's range [{:.6g}, {:.6g}] (alpha_bar at steps {} and 0); shorten or soften the "
          "inference schedule, or train with more steps",
          s, inference_betas[s], g, ab.back(), ab.front(), ab.size() - 1));
  }
  return aligned;
}

}  // namespace diffwave
