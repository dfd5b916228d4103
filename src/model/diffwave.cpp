#include "model/diffwave.h"

#include <fmt/format.h>
#include <torch/nn/init.h>

#include <cmath>

#include "common/config.h"
#include "common/error.h"

namespace diffwave {

DiffWaveOptions DiffWaveOptions::from_config(const ModelConfig& m, int64_t n_mels, int64_t diffusion_steps) {
  DiffWaveOptions o;
  o.residual_channels = m.residual_channels;
  o.residual_layers = m.residual_layers;
  o.dilation_cycle_length = m.dilation_cycle_length;
  o.n_mels = n_mels;
  o.unconditional = m.unconditional;
  o.upsample_factors = m.upsample_factors;
  o.diffusion_steps = diffusion_steps;
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

torch::Tensor DiffWaveImpl::forward(const torch::Tensor& audio, const torch::Tensor& steps, const torch::Tensor& mel) {
  if (options_.unconditional == mel.defined())
    throw Error(options_.unconditional ? "the unconditional model takes no mel spectrogram"
                                       : "the conditional model needs a mel spectrogram");
  auto x = torch::relu(input_projection(audio.unsqueeze(1)));
  auto step = diffusion_embedding(steps);
  torch::Tensor mel_up;
  if (spectrogram_upsampler) {
    mel_up = spectrogram_upsampler(mel);
    if (mel_up.size(-1) != audio.size(-1))
      throw Error(fmt::format("audio has {} samples but the mel upsamples to {} (frames x hop): they must match",
                              audio.size(-1), mel_up.size(-1)));
  }
  torch::Tensor skip;
  for (auto& layer : layers_) {
    auto [next, skip_part] = layer(x, step, mel_up);
    x = next;
    skip = skip.defined() ? skip_part + skip : skip_part;
  }
  x = skip / std::sqrt(static_cast<double>(layers_.size()));
  x = torch::relu(skip_projection(x));
  return output_projection(x);
}

int64_t DiffWaveImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace diffwave
