// The DiffWave network (Kong et al. 2020) with lmnt-com/diffwave's architecture, initialisation
// and state-dict names, generalised to any size, hop (upsampler factors) and the unconditional
// variant. Knows nothing of ranks, devices or files.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <string>
#include <vector>

#include "model/diffusion_embedding.h"
#include "model/residual_layer.h"
#include "model/spectrogram_upsampler.h"

namespace diffwave {

struct ModelConfig;

// Which residual-layer implementation runs: the reference op sequence (lmnt's, kernel for
// kernel), the fused one (model/residual_layer_fused.h), or automatic: fused on the CPU, the
// reference on GPUs until the fused CUDA kernels have passed the gpu tests on real hardware.
enum class LayerKernels { automatic, fused, reference };
LayerKernels parse_layer_kernels(const std::string& name);  // auto | fused | reference

struct DiffWaveOptions {
  int64_t residual_channels = 64;
  int64_t residual_layers = 30;
  int64_t dilation_cycle_length = 10;
  int64_t n_mels = 80;
  bool unconditional = false;
  std::vector<int> upsample_factors{16, 16};
  int64_t diffusion_steps = 50;  // rows of the step-embedding table (training T)
  LayerKernels kernels = LayerKernels::automatic;

  int64_t hop() const {  // audio samples per mel frame
    int64_t h = 1;
    for (int f : upsample_factors) h *= f;
    return h;
  }
  static DiffWaveOptions from_config(const ModelConfig& model, int64_t n_mels, int64_t diffusion_steps);
};

class DiffWaveImpl : public torch::nn::Module {
 public:
  explicit DiffWaveImpl(const DiffWaveOptions& options);

  // audio: [B, L]; steps: [B] or [1] (integer or fractional); mel: [B, n_mels, L / hop], or an
  // undefined tensor for the unconditional model. Returns the predicted noise, [B, 1, L].
  // `cached`: conditioner_terms(mel)'s result for this input, which replaces the upsampler and
  // the conditioner projections (fused layers, inference only).
  torch::Tensor forward(const torch::Tensor& audio, const torch::Tensor& steps, const torch::Tensor& mel = {},
                        const std::vector<torch::Tensor>& cached = {});

  // Each layer's conditioner term for `mel` (or its bias when unconditional), fixed over the
  // diffusion steps: a sampler computes it once per input instead of once per step. Costs
  // layers x 2C x length floats per row (an unconditional model's terms are
  // broadcast views of its biases). Only for inputs that take the fused layers.
  std::vector<torch::Tensor> conditioner_terms(const torch::Tensor& mel, int64_t batch, int64_t length);

  const DiffWaveOptions& options() const { return options_; }
  void set_kernels(LayerKernels kernels) { options_.kernels = kernels; }
  // Whether forward() on this input takes the fused residual-layer path.
  bool uses_fused_layers(const torch::Tensor& audio) const;
  int64_t parameter_count() const;

  torch::nn::Conv1d input_projection{nullptr}, skip_projection{nullptr}, output_projection{nullptr};
  DiffusionEmbedding diffusion_embedding{nullptr};
  SpectrogramUpsampler spectrogram_upsampler{nullptr};
  torch::nn::ModuleList residual_layers{nullptr};

 private:
  torch::Tensor upsample(const torch::Tensor& mel, int64_t length);  // checks the length

  DiffWaveOptions options_;
  std::vector<ResidualLayer> layers_;  // typed handles to the entries of residual_layers
};
TORCH_MODULE(DiffWave);

}  // namespace diffwave
