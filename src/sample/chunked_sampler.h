// The reverse process over overlapping windows of a long input (lmnt issue #8: memory grows
// with the utterance). Each window runs the whole reverse process on its own; the noise of
// every draw is drawn once at full length from the row's generator and sliced per window, so a
// window sees exactly the noise the unchunked run would. With one window this is
// diffusion::sample with per_row_noise, operation for operation.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <vector>

#include "diffusion/diffusion.h"
#include "model/diffwave.h"

namespace diffwave {

// A window [begin, end) of the input and the part [keep_begin, keep_end) of it that goes to the
// output. The kept parts tile [0, total) without gaps.
struct Window {
  int64_t begin = 0, end = 0, keep_begin = 0, keep_end = 0;
};

// Cores of `chunk` units, widened by `overlap` on both sides (within [0, total)). chunk <= 0 or
// total <= chunk gives one window.
std::vector<Window> plan_windows(int64_t total, int64_t chunk, int64_t overlap);

// How far one model pass reaches to each side, in samples: the sum of the dilations (kernel 3).
int64_t receptive_half_width(const DiffWaveOptions& options);

// The overlap (frames for a conditional model, samples for an unconditional one) beyond which a
// window's edges cannot reach its kept part within `steps` passes: steps x the reach of one pass,
// plus 2 frames for the upsampler's reach into the mel. With it, chunked equals unchunked up to
// float rounding.
int64_t default_overlap(const DiffWaveOptions& options, int steps);

// Generators for a batch: row i's noise comes from a CPU generator seeded with
// mix_seed({seed, fnv1a64(ids[i])}), so it depends on the id and the seed, not the batch or rank.
std::vector<at::Generator> row_generators(uint64_t seed, const std::vector<std::string>& ids);

// The reverse process for a batch. mel: [B, n_mels, frames] on the model's device (length =
// frames * hop), or undefined for an unconditional model with `batch` rows of `length` samples.
// windows: in samples (multiples of the hop when conditional). bf16: autocast the model's
// forward on CUDA. With the fused layers, each window's conditioner terms (the same at every
// step) are computed once while their total stays within cache_bytes; the result is the same.
// cuda_graphs: capture each window's forward once and replay it at every step
// (sample/graphed_forward.h). Returns [B, length] in [-1, 1] on the model's device.
at::Tensor sample_windows(DiffWave& model, const SamplerPlan& plan, const at::Tensor& mel, int64_t batch, int64_t length,
                          const std::vector<at::Generator>& generators, const std::vector<Window>& windows,
                          at::TensorOptions options, bool bf16 = false, int64_t cache_bytes = int64_t{2} << 30,
                          bool cuda_graphs = false);

}  // namespace diffwave
