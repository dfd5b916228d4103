// Our checkpoints as lmnt-com/diffwave weight files: a pickled dict {"model": state dict with
// lmnt's parameter names, "params": a plain dict of every key lmnt's DiffWave and params.py
// read, "step"}, which Python opens with torch.load(path, weights_only=True).
#pragma once
#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <map>
#include <string>

#include "common/config.h"

namespace diffwave {

// lmnt's params for `config`: batch_size, learning_rate, max_grad_norm, sample_rate, n_mels,
// n_fft, hop_samples, crop_mel_frames, residual_layers, residual_channels,
// dilation_cycle_length, unconditional, noise_schedule, inference_noise_schedule, audio_len.
c10::impl::GenericDict lmnt_params(const Config& config);

// The file's bytes (torch.save's zip layout) for a state dict, its config and its step.
std::vector<char> lmnt_weights_bytes(const std::map<std::string, at::Tensor>& state, const Config& config, int64_t step);

// Reads our checkpoint (a file or a run dir's latest), takes its trained (or EMA) weights and
// writes `out_path`. Returns the checkpoint that was read. Throws DataError naming the file.
std::string export_lmnt(const std::string& run_dir_or_file, bool ema, const std::string& out_path);

}  // namespace diffwave
