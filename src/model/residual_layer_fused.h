// The residual layer as one autograd function: the dilated convolution through ATen (oneDNN on
// the CPU, cuDNN on GPUs), the conditioner and output projections as batched GEMMs, and the
// elementwise work in single passes (model/residual_kernels.h). Same arithmetic as the reference
// op sequence (ResidualLayerImpl::forward) up to float rounding, without its chunk/cat copies and
// intermediate tensors; the backward is written out by hand. (The dilated convolution as three
// shifted GEMMs measured 17-36 % slower at BASE on the 2-core CPU.)
#pragma once
#include <ATen/core/Tensor.h>

#include <utility>

namespace diffwave {

struct ResidualLayerWeights {
  at::Tensor dilated_weight, dilated_bias;          // [2C, C, 3], [2C]
  at::Tensor conditioner_weight, conditioner_bias;  // [2C, n_mels, 1], [2C]; undefined: unconditional
  at::Tensor output_weight, output_bias;            // [2C, C, 1], [2C]
  int64_t dilation = 1;
};

// The part of the pre-gate activation z that does not depend on x or the diffusion step:
// W_cond mel_up + b_cond + b_dilated ([B, 2C, T]; b_dilated alone when unconditional). The
// sampler computes it once per input and passes it to every step (conditioner_term below).
at::Tensor conditioner_term(const at::Tensor& mel_up, const ResidualLayerWeights& weights, int64_t batch,
                            int64_t length);

// x: [B, C, T]; step_projection: [B or 1, C]; mel_up: [B, n_mels, T] or undefined; skip_in: the
// running skip sum [B, C, T] or undefined for the first layer. Returns ((x + residual) / sqrt(2),
// skip_in + skip). Differentiable in every tensor when grad mode is on. A defined `cached`
// (conditioner_term's result) replaces mel_up and the biases; inference only.
std::pair<at::Tensor, at::Tensor> fused_residual_layer(const at::Tensor& x, const at::Tensor& step_projection,
                                                       const at::Tensor& mel_up, const at::Tensor& skip_in,
                                                       const ResidualLayerWeights& weights,
                                                       const at::Tensor& cached = {});

}  // namespace diffwave
