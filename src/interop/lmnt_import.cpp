#include "interop/lmnt_import.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/utils.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "common/error.h"
#include "interop/torch_pickle.h"
#include "checkpoint/checkpoint_model.h"
#include "checkpoint/train_state.h"

namespace diffwave {

std::string lmnt_strip_command(const std::string& in_path) {
  std::string out = in_path;
  const auto dot = out.rfind('.');
  out = (dot == std::string::npos ? out : out.substr(0, dot)) + "_plain.pt";
  return fmt::format("python -c \"import torch; c=torch.load('{}', weights_only=False); torch.save({{'model': "
                     "dict(c['model']), 'params': dict(c['params']), 'step': int(c.get('step', 0))}}, '{}')\"",
                     in_path, out);
}

namespace {

std::string yaml_value(const c10::IValue& v, const std::string& key, const std::string& source) {
  if (v.isBool()) return v.toBool() ? "true" : "false";
  if (v.isInt()) return std::to_string(v.toInt());
  if (v.isDouble()) return fmt::format("{:.17g}", v.toDouble());
  if (v.isList() || v.isDoubleList() || v.isIntList()) {
    std::vector<std::string> parts;
    for (const auto& e : v.toListRef()) parts.push_back(yaml_value(e, key, source));
    return fmt::format("[{}]", fmt::join(parts, ", "));
  }
  if (v.isTuple()) {
    std::vector<std::string> parts;
    for (const auto& e : v.toTupleRef().elements()) parts.push_back(yaml_value(e, key, source));
    return fmt::format("[{}]", fmt::join(parts, ", "));
  }
  throw DataError(fmt::format("{}: params['{}'] is a {}, not a number, bool or list", source, key, v.tagKind()));
}

// Strips DistributedDataParallel's prefix, which a state dict saved from the wrapper carries.
std::string plain_name(std::string name) { return name.rfind("module.", 0) == 0 ? name.substr(7) : name; }

// The pickle states each tensor's shape, strides and offset into a storage record of its own
// size: a crafted file may view 4 bytes as a large tensor. Checked before any element is read.
void check_storage(const std::string& path, const std::string& name, const at::Tensor& t) {
  // The bytes the view reaches: (offset + sum of (size - 1) * stride + 1) * itemsize.
  uint64_t last = static_cast<uint64_t>(t.storage_offset()), reach = 0, needed = 0;
  bool bad = t.storage_offset() < 0 || !t.storage().device().is_cpu();
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) == 0) return;  // no element: nothing is read
    bad = bad || t.stride(d) < 0 ||
          __builtin_mul_overflow(static_cast<uint64_t>(t.size(d) - 1), static_cast<uint64_t>(t.stride(d)), &reach) ||
          __builtin_add_overflow(last, reach, &last);
  }
  bad = bad || __builtin_add_overflow(last, uint64_t{1}, &needed) ||
        __builtin_mul_overflow(needed, static_cast<uint64_t>(t.itemsize()), &needed) || needed > t.storage().nbytes();
  if (bad)
    throw DataError(fmt::format("{}: weight '{}' of shape [{}] ({}) reaches past its stored {} bytes: the file is "
                                "damaged or crafted",
                                path, name, fmt::join(t.sizes(), ", "), c10::toString(t.scalar_type()),
                                t.storage().nbytes()));
}

}  // namespace

Config config_from_lmnt(const c10::impl::GenericDict& params, const c10::impl::GenericDict& state,
                        const std::string& source) {
  // lmnt key -> our section; lmnt's names are ours within the sections.
  const std::map<std::string, std::string> section = {
      {"sample_rate", "audio"},        {"n_fft", "audio"},
      {"hop_samples", "audio"},        {"n_mels", "audio"},
      {"residual_channels", "model"},  {"residual_layers", "model"},
      {"dilation_cycle_length", "model"}, {"unconditional", "model"},
      {"noise_schedule", "diffusion"}, {"inference_noise_schedule", "diffusion"},
      {"batch_size", "train"},         {"learning_rate", "train"},
      {"max_grad_norm", "train"},      {"crop_mel_frames", "train"},
      {"audio_len", "train"}};
  std::map<std::string, std::vector<std::string>> lines;
  for (const auto& entry : params) {
    const auto key = entry.key().toStringRef();
    auto it = section.find(key);
    if (it == section.end() || entry.value().isNone()) continue;  // lmnt's max_grad_norm=None: our default
    lines[it->second].push_back(fmt::format("  {}: {}", key, yaml_value(entry.value(), key, source)));
  }
  // lmnt hard-wires two x16 stages; a ConvTranspose2d kernel of width 2f - (f mod 2) means factor f.
  std::vector<std::string> factors;
  for (int i = 1;; ++i) {
    const c10::IValue key(fmt::format("spectrogram_upsampler.conv{}.weight", i));
    const c10::IValue module_key("module." + key.toStringRef());
    const auto it = state.contains(key) ? state.find(key) : state.find(module_key);
    if (it == state.end()) break;
    factors.push_back(std::to_string((it->value().toTensor().size(-1) + 1) / 2));
  }
  if (!factors.empty()) lines["model"].push_back(fmt::format("  upsample_factors: [{}]", fmt::join(factors, ", ")));
  std::ostringstream yaml;
  for (const auto& [name, entries] : lines) {
    yaml << name << ":\n";
    for (const auto& l : entries) yaml << l << "\n";
  }
  auto config = Config::from_yaml(yaml.str(), source + " (params)");
  config.validate(0);
  return config;
}

Checkpoint import_lmnt(const std::string& path, const std::optional<std::string>& config_path) {
  if (!std::ifstream(path)) throw DataError(fmt::format("{}: cannot open", path));
  c10::IValue root;
  try {
    root = torch_load_file(path);
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    throw DataError(fmt::format("{}: cannot unpickle it in C++ ({}). lmnt's own weight files pickle params as an "
                                "AttrDict (a Python class) and the state dict as an OrderedDict with metadata; make a "
                                "plain copy first with\n  {}\nand import that file. weights_only=False unpickles with "
                                "Python's pickle, which runs code from the file: do it only for files you trust "
                                "(lmnt's releases, your own runs)",
                                path, why, lmnt_strip_command(path)));
  }
  if (!root.isGenericDict()) throw DataError(fmt::format("{}: holds a {}, not a dict", path, root.tagKind()));
  const auto dict = root.toGenericDict();
  if (!dict.contains("model") || !dict.at("model").isGenericDict())
    throw DataError(fmt::format("{}: has no 'model' state dict", path));
  const auto state = dict.at("model").toGenericDict();
  c10::impl::GenericDict no_params(c10::StringType::get(), c10::AnyType::get());
  const auto params = dict.contains("params") && dict.at("params").isGenericDict() ? dict.at("params").toGenericDict()
                                                                                    : no_params;
  if (!config_path && !dict.contains("params"))
    throw DataError(fmt::format("{}: has no 'params'; pass --config with the model's YAML config", path));
  Config config = config_path ? Config::load(*config_path) : config_from_lmnt(params, state, path);
  config.validate(0);

  std::map<std::string, at::Tensor> weights;
  for (const auto& entry : state) {
    const auto name = plain_name(entry.key().toStringRef());
    if (name == "diffusion_embedding.embedding") continue;  // a fixed table older lmnt versions saved; rebuilt
    if (!entry.value().isTensor()) throw DataError(fmt::format("{}: model['{}'] is not a tensor", path, name));
    check_storage(path, name, entry.value().toTensor());
    weights[name] = entry.value().toTensor();
  }
  auto model = make_model(config);
  const std::string origin = config_path ? *config_path : path + " (params)";
  std::vector<std::string> names;
  std::vector<at::Tensor> values;
  for (const auto& p : model->named_parameters()) {
    auto it = weights.find(p.key());
    if (it == weights.end())
      throw DataError(fmt::format("{}: no weight '{}', which the model of {} has", path, p.key(), origin));
    if (!it->second.sizes().equals(p.value().sizes()))
      throw DataError(fmt::format("{}: weight '{}' has shape {}, the model of {} expects {}", path, p.key(),
                                  fmt::join(it->second.sizes(), "x"), origin, fmt::join(p.value().sizes(), "x")));
    names.push_back(p.key());
    values.push_back(it->second);
    weights.erase(it);
  }
  if (!weights.empty())
    throw DataError(fmt::format("{}: weight '{}' (and {} more) matches no parameter of the model of {}", path,
                                weights.begin()->first, weights.size() - 1, origin));
  auto fresh = TrainState::fresh(config, names, values);
  const int64_t lmnt_step = dict.contains("step") && dict.at("step").isInt() ? dict.at("step").toInt() : 0;
  fresh.extra = {{"imported_from", path}, {"imported_step", std::to_string(lmnt_step)}};
  return fresh.to_checkpoint();
}

}  // namespace diffwave
