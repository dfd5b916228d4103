#include "sample/chunked_sampler.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/utils.h>

#include <cmath>
#include <memory>

#include "common/error.h"
#include "common/seeds.h"
#include "model/bf16_autocast.h"
#include "sample/batches.h"
#include "sample/graphed_forward.h"

namespace diffwave {

std::vector<Window> plan_windows(int64_t total, int64_t chunk, int64_t overlap) {
  if (total <= 0) throw Error(fmt::format("cannot sample an input of length {}", total));
  if (overlap < 0) throw Error(fmt::format("chunk overlap must not be negative, not {}", overlap));
  if (chunk <= 0 || total <= chunk) return {{0, total, 0, total}};
  std::vector<Window> windows;
  for (int64_t a = 0; a < total; a += chunk) {
    const int64_t b = std::min(total, a + chunk);
    windows.push_back({std::max<int64_t>(0, a - overlap), std::min(total, b + overlap), a, b});
  }
  return windows;
}

int64_t receptive_half_width(const DiffWaveOptions& o) {
  int64_t reach = 0;
  for (int64_t i = 0; i < o.residual_layers; ++i) reach += int64_t{1} << (i % o.dilation_cycle_length);
  return reach;
}

int64_t default_overlap(const DiffWaveOptions& o, int steps) {
  const int64_t reach = steps * receptive_half_width(o);
  if (o.unconditional) return reach;
  return (reach + o.hop() - 1) / o.hop() + 2;
}

std::vector<at::Generator> row_generators(uint64_t seed, const std::vector<std::string>& ids) {
  std::vector<at::Generator> gens;
  for (const auto& id : ids) gens.push_back(at::make_generator<at::CPUGeneratorImpl>(mix_seed({seed, fnv1a64(id)})));
  return gens;
}

namespace {

// Row i from generators[i], full length, drawn on the CPU (as per_row_noise draws it) and moved
// to `device`: through pinned memory to a GPU, so that the copy does not stall the host.
at::Tensor draw(const std::vector<at::Generator>& gens, int64_t length, const at::Device& device) {
  const bool gpu = !device.is_cpu();
  auto out = at::empty({static_cast<int64_t>(gens.size()), length}, at::TensorOptions().dtype(at::kFloat).pinned_memory(gpu));
  for (size_t i = 0; i < gens.size(); ++i) out[static_cast<int64_t>(i)].normal_(0.0, 1.0, gens[i]);
  return gpu ? out.to(device, /*non_blocking=*/true) : out;
}

}  // namespace

at::Tensor sample_windows(DiffWave& model, const SamplerPlan& plan, const at::Tensor& mel, int64_t batch, int64_t length,
                          const std::vector<at::Generator>& generators, const std::vector<Window>& windows,
                          at::TensorOptions options, bool bf16, int64_t cache_bytes, bool cuda_graphs) {
  torch::NoGradGuard no_grad;
  const int64_t hop = model->options().hop();
  if (mel.defined()) {
    batch = mel.size(0);
    length = mel.size(-1) * hop;
  }
  if (static_cast<int64_t>(generators.size()) != batch)
    throw Error(fmt::format("sampler: {} generators for a batch of {}", generators.size(), batch));
  if (windows.empty() || windows.front().keep_begin != 0 || windows.back().keep_end != length)
    throw Error(fmt::format("sampler: the windows do not cover the {} samples", length));
  const auto device = options.device();
  std::vector<at::Tensor> x, cond;
  {
    const auto noise = draw(generators, length, device);
    for (const auto& w : windows) {
      if (mel.defined() && (w.begin % hop != 0 || w.end % hop != 0))
        throw Error(fmt::format("sampler: window [{}, {}) is not a whole number of hops of {}", w.begin, w.end, hop));
      x.push_back(noise.slice(1, w.begin, w.end).contiguous());
      cond.push_back(mel.defined() ? mel.slice(2, w.begin / hop, w.end / hop).contiguous() : at::Tensor());
    }
  }
  std::vector<std::vector<at::Tensor>> cached(windows.size());
  if (!bf16 && model->uses_fused_layers(x[0])) {
    const auto& o = model->options();
    for (size_t k = 0; k < windows.size(); ++k) {
      const int64_t len = windows[k].end - windows[k].begin;
      const int64_t bytes = batch * len * o.residual_layers * 2 * o.residual_channels * int64_t{sizeof(float)};
      if (bytes > cache_bytes) break;
      cache_bytes -= bytes;
      cached[k] = model->conditioner_terms(cond[k], batch, len);
    }
  }
  std::vector<std::unique_ptr<GraphedForward>> graphs(windows.size());
  if (cuda_graphs)
    for (size_t k = 0; k < windows.size(); ++k)
      graphs[k] = std::make_unique<GraphedForward>(model, x[k], cond[k], cached[k], bf16);
  const auto& beta = plan.betas;
  const auto& alpha_bar = plan.alpha_bar;
  for (int n = plan.steps() - 1; n >= 0; --n) {
    // lmnt's coefficients, in float64 with its operation order, as diffusion::sample applies them.
    const double c1 = 1.0 / std::pow(1.0 - beta[n], 0.5);
    const double c2 = beta[n] / std::pow(1.0 - alpha_bar[n], 0.5);
    const auto step = at::full({1}, plan.model_steps[n], options.dtype(at::kFloat));
    at::Tensor z;
    double sigma = 0;
    if (n > 0) {
      z = draw(generators, length, device);
      sigma = std::pow((1.0 - alpha_bar[n - 1]) / (1.0 - alpha_bar[n]) * beta[n], 0.5);
    }
    for (size_t k = 0; k < windows.size(); ++k) {
      at::Tensor eps;
      if (graphs[k]) {
        eps = (*graphs[k])(x[k], plan.model_steps[n]);
      } else {
        Bf16Autocast autocast(bf16);
        eps = model->forward(x[k], step, cond[k], cached[k]).squeeze(1);
      }
      x[k] = c1 * (x[k] - c2 * eps.to(at::kFloat));
      if (n > 0) x[k] += sigma * z.slice(1, windows[k].begin, windows[k].end);
      x[k] = at::clamp(x[k], -1.0, 1.0);
    }
  }
  auto out = at::empty({batch, length}, options.dtype(at::kFloat));
  for (size_t k = 0; k < windows.size(); ++k) {
    const auto& w = windows[k];
    out.slice(1, w.keep_begin, w.keep_end).copy_(x[k].slice(1, w.keep_begin - w.begin, w.keep_end - w.begin));
  }
  return out;
}

}  // namespace diffwave
