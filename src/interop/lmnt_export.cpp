#include "interop/lmnt_export.h"

#include <fmt/format.h>

#include <fstream>

#include "common/error.h"
#include "interop/torch_pickle.h"
#include "checkpoint/checkpoint_model.h"

namespace diffwave {
namespace {

// Generic (not double-specialised) lists: the C++ pickler writes a specialised list through a
// torch.jit helper (build_doublelist) that Python's weights_only unpickler refuses.
c10::impl::GenericList double_list(const std::vector<double>& values) {
  c10::impl::GenericList list(c10::AnyType::get());
  for (double v : values) list.push_back(v);
  return list;
}

}  // namespace

c10::impl::GenericDict lmnt_params(const Config& c) {
  c10::impl::GenericDict p(c10::StringType::get(), c10::AnyType::get());
  p.insert("batch_size", static_cast<int64_t>(c.train.batch_size));
  p.insert("learning_rate", c.train.learning_rate);
  p.insert("max_grad_norm", c.train.max_grad_norm);
  p.insert("sample_rate", static_cast<int64_t>(c.audio.sample_rate));
  p.insert("n_mels", static_cast<int64_t>(c.audio.n_mels));
  p.insert("n_fft", static_cast<int64_t>(c.audio.n_fft));
  p.insert("hop_samples", static_cast<int64_t>(c.audio.hop_samples));
  p.insert("crop_mel_frames", static_cast<int64_t>(c.train.crop_mel_frames));
  p.insert("residual_layers", static_cast<int64_t>(c.model.residual_layers));
  p.insert("residual_channels", static_cast<int64_t>(c.model.residual_channels));
  p.insert("dilation_cycle_length", static_cast<int64_t>(c.model.dilation_cycle_length));
  p.insert("unconditional", c.model.unconditional);
  p.insert("noise_schedule", double_list(c.diffusion.noise_schedule.betas));
  p.insert("inference_noise_schedule", double_list(c.diffusion.inference_noise_schedule.betas));
  p.insert("audio_len", static_cast<int64_t>(c.train.audio_len));
  return p;
}

std::vector<char> lmnt_weights_bytes(const std::map<std::string, at::Tensor>& state, const Config& config, int64_t step) {
  c10::impl::GenericDict model(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, t] : state) model.insert(name, t.detach().cpu().contiguous());
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert("model", model);
  root.insert("params", lmnt_params(config));
  root.insert("step", step);
  return torch_save_bytes(root);
}

std::string export_lmnt(const std::string& run_dir_or_file, bool ema, const std::string& out_path) {
  const auto loaded = load_checkpoint_model(run_dir_or_file, ema);
  std::map<std::string, at::Tensor> state;
  for (const auto& p : loaded.model->named_parameters()) state[p.key()] = p.value();
  const auto bytes = lmnt_weights_bytes(state, loaded.config, loaded.step);
  std::ofstream out(out_path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw DataError(fmt::format("{}: cannot write the exported weights", out_path));
  return loaded.path;
}

}  // namespace diffwave
