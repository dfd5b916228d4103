#include "model/diffwave.h"

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/nn/init.h>

#include <cmath>
#include <tuple>

#include "common/config.h"
#include "common/error.h"

namespace diffwave {

LayerKernels parse_layer_kernels(const std::string& name) {
  if (name == "auto") return LayerKernels::automatic;
  if (name == "fused") return LayerKernels::fused;
  if (name == "reference") return LayerKernels::reference;
  throw ConfigError(fmt::format("model.kernels is '{}': expected auto, fused or reference", name));
}

DiffWaveOptions DiffWaveOptions::from_config(const ModelConfig& m, int64_t n_mels, int64_t diffusion_steps) {
  DiffWaveOptions o;
  o.residual_channels = m.residual_channels;
  o.residual_layers = m.residual_layers;
  o.dilation_cycle_length = m.dilation_cycle_length;
  o.n_mels = n_mels;
  o.unconditional = m.unconditional;
  o.upsample_factors = m.upsample_factors;
  o.diffusion_steps = diffusion_steps;
  o.kernels = parse_layer_kernels(m.kernels);
  return o;
}

DiffWaveImpl::DiffWaveImpl(const DiffWaveOptions& o) : options_(o) {
  const int64_t C = o.residual_channels;
  // Registration order follows lmnt's __init__, so parameters enumerate in the same order.
  input_projection = register_module("input_projection", kaiming_conv1d(torch::nn::Conv1dOptions(1, C, 1)));
  diffusion_embedding = register_module("diffusion_embedding", DiffusionEmbedding(o.diffusion_steps));
  if (!o.unconditional)
    spectrogram_upsampler = register_module("spectrogram_upsampler", SpectrogramUpsampler(o.upsample_factors));
  residual_layers = register_module("residual_layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.residual_layers; ++i) {
    ResidualLayer layer(o.unconditional ? 0 : o.n_mels, C, int64_t{1} << (i % o.dilation_cycle_length));
    residual_layers->push_back(layer);
    layers_.push_back(layer);
  }
  skip_projection = register_module("skip_projection", kaiming_conv1d(torch::nn::Conv1dOptions(C, C, 1)));
  output_projection = register_module("output_projection", kaiming_conv1d(torch::nn::Conv1dOptions(C, 1, 1)));
  torch::NoGradGuard no_grad;
  torch::nn::init::zeros_(output_projection->weight);  // the network starts by predicting ~0 noise
}

torch::Tensor DiffWaveImpl::upsample(const torch::Tensor& mel, int64_t length) {
  auto mel_up = spectrogram_upsampler(mel);
  if (mel_up.size(-1) != length)
    throw Error(fmt::format("audio has {} samples but the mel upsamples to {} (frames x hop): they must match", length,
                            mel_up.size(-1)));
  return mel_up;
}

std::vector<torch::Tensor> DiffWaveImpl::conditioner_terms(const torch::Tensor& mel, int64_t batch, int64_t length) {
  if (options_.unconditional == mel.defined())
    throw Error(options_.unconditional ? "the unconditional model takes no mel spectrogram"
                                       : "the conditional model needs a mel spectrogram");
  const auto mel_up = mel.defined() ? upsample(mel, length) : torch::Tensor();
  std::vector<torch::Tensor> terms;
  for (auto& layer : layers_) terms.push_back(layer->conditioner_term(mel_up, batch, length));
  return terms;
}

torch::Tensor DiffWaveImpl::forward(const torch::Tensor& audio, const torch::Tensor& steps, const torch::Tensor& mel,
                                    const std::vector<torch::Tensor>& cached) {
  if (options_.unconditional == mel.defined())
    throw Error(options_.unconditional ? "the unconditional model takes no mel spectrogram"
                                       : "the conditional model needs a mel spectrogram");
  const bool fused = uses_fused_layers(audio);
  if (!cached.empty() && (!fused || cached.size() != layers_.size() || cached[0].size(-1) != audio.size(-1)))
    throw Error("cached conditioner terms need the fused layers and must come from conditioner_terms for this input");
  auto x = torch::relu(input_projection(audio.unsqueeze(1)));
  auto step = diffusion_embedding(steps);
  torch::Tensor mel_up;
  if (spectrogram_upsampler && cached.empty()) mel_up = upsample(mel, audio.size(-1));
  torch::Tensor skip;
  for (size_t i = 0; i < layers_.size(); ++i) {
    auto& layer = layers_[i];
    if (fused) {
      std::tie(x, skip) = layer->forward_fused(x, step, mel_up, skip, cached.empty() ? torch::Tensor() : cached[i]);
      continue;
    }
    auto [next, skip_part] = layer(x, step, mel_up);
    x = next;
    skip = skip.defined() ? skip_part + skip : skip_part;
  }
  x = skip / std::sqrt(static_cast<double>(layers_.size()));
  x = torch::relu(skip_projection(x));
  return output_projection(x);
}

bool DiffWaveImpl::uses_fused_layers(const torch::Tensor& audio) const {
  // The fused kernels are float32; under bf16 autocast the reference ops run (autocast casts them).
  if (audio.scalar_type() != at::kFloat || at::autocast::is_autocast_enabled(audio.device().type())) return false;
  switch (options_.kernels) {
    case LayerKernels::fused: return true;
    case LayerKernels::reference: return false;
    case LayerKernels::automatic: return audio.is_cpu();
  }
  return false;
}

int64_t DiffWaveImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace diffwave
