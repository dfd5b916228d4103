#include "common/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "common/error.h"
#include "diffusion/schedule.h"

namespace diffwave {

BetaSchedule BetaSchedule::make_linear(double start, double end, int steps) {
  BetaSchedule s;
  s.linear = Linear{start, end, steps};
  // Same values as numpy.linspace(start, end, steps), which lmnt uses.
  const double delta = steps > 1 ? (end - start) / (steps - 1) : 0.0;
  for (int i = 0; i < steps; ++i) s.betas.push_back(i == steps - 1 && steps > 1 ? end : start + i * delta);
  return s;
}

namespace {

constexpr int kMaxDilationCycle = 32;
constexpr double kMaxBucketCapMb = 1 << 20;  // 1 TiB: one bucket holds any model

// Calls v(key, field) for every configuration key, in the order the YAML is printed.
// This one list drives loading, unknown-key detection and printing.
template <class V>
void visit_fields(Config& c, V&& v) {
  v("audio.sample_rate", c.audio.sample_rate);
  v("audio.n_fft", c.audio.n_fft);
  v("audio.win_length", c.audio.win_length);
  v("audio.hop_samples", c.audio.hop_samples);
  v("audio.n_mels", c.audio.n_mels);
  v("audio.f_min", c.audio.f_min);
  v("audio.f_max", c.audio.f_max);
  v("model.residual_channels", c.model.residual_channels);
  v("model.residual_layers", c.model.residual_layers);
  v("model.dilation_cycle_length", c.model.dilation_cycle_length);
  v("model.unconditional", c.model.unconditional);
  v("model.upsample_factors", c.model.upsample_factors);
  v("model.kernels", c.model.kernels);
  v("diffusion.noise_schedule", c.diffusion.noise_schedule);
  v("diffusion.inference_noise_schedule", c.diffusion.inference_noise_schedule);
  v("diffusion.loss", c.diffusion.loss);
  v("train.batch_size", c.train.batch_size);
  v("train.learning_rate", c.train.learning_rate);
  v("train.max_grad_norm", c.train.max_grad_norm);
  v("train.crop_mel_frames", c.train.crop_mel_frames);
  v("train.audio_len", c.train.audio_len);
  v("train.seed", c.train.seed);
  v("train.max_steps", c.train.max_steps);
  v("train.checkpoint_interval", c.train.checkpoint_interval);
  v("train.keep_checkpoints", c.train.keep_checkpoints);
  v("train.log_interval", c.train.log_interval);
  v("train.validation_interval", c.train.validation_interval);
  v("train.validation_items", c.train.validation_items);
  v("train.quality_interval", c.train.quality_interval);
  v("train.quality_seconds", c.train.quality_seconds);
  v("train.ema_decay", c.train.ema_decay);
  v("train.ema_warmup", c.train.ema_warmup);
  v("train.grad_accumulation", c.train.grad_accumulation);
  v("train.bucket_cap_mb", c.train.bucket_cap_mb);
  v("train.lr_warmup_steps", c.train.lr_warmup_steps);
  v("train.lr_decay", c.train.lr_decay);
  v("train.lr_min", c.train.lr_min);
  v("train.precision", c.train.precision);
  v("train.max_nonfinite_steps", c.train.max_nonfinite_steps);
  v("train.comm_timeout", c.train.comm_timeout);
  v("train.max_time", c.train.max_time);
  v("train.device", c.train.device);
  v("train.profile_steps", c.train.profile_steps);
  v("train.cuda_graphs", c.train.cuda_graphs);
  v("prep.validation_fraction", c.prep.validation_fraction);
  v("prep.min_frames", c.prep.min_frames);
  v("prep.shard_hours", c.prep.shard_hours);
  v("prep.audio_dtype", c.prep.audio_dtype);
  v("prep.compression", c.prep.compression);
}

std::set<std::string> known_keys() {
  std::set<std::string> keys;
  Config c;
  visit_fields(c, [&](const char* key, auto&) { keys.insert(key); });
  return keys;
}

std::pair<std::string, std::string> split_key(const std::string& key) {
  auto dot = key.find('.');
  return {key.substr(0, dot), dot == std::string::npos ? "" : key.substr(dot + 1)};
}

YAML::Node lookup(const YAML::Node& root, const std::string& key) {
  auto [section, leaf] = split_key(key);
  if (!root.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node sec = root[section];
  if (!sec || !sec.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node value = sec[leaf];
  return value ? value : YAML::Node(YAML::NodeType::Undefined);
}

std::string show(const YAML::Node& n) {
  YAML::Emitter out;
  out << YAML::Flow << n;
  return out.c_str();
}

// Typed decoding; each returns false on a type mismatch so the caller can name the key.
bool decode(const YAML::Node& n, int& out) {
  if (!n.IsScalar()) return false;
  return YAML::convert<int>::decode(n, out);
}
bool decode(const YAML::Node& n, long long& out) {
  if (!n.IsScalar()) return false;
  return YAML::convert<long long>::decode(n, out);
}
bool decode(const YAML::Node& n, double& out) {  // finite only: no key has a use for .nan or .inf
  if (!n.IsScalar()) return false;
  return YAML::convert<double>::decode(n, out) && std::isfinite(out);
}
bool decode(const YAML::Node& n, bool& out) {
  if (!n.IsScalar()) return false;
  return YAML::convert<bool>::decode(n, out);
}
bool decode(const YAML::Node& n, std::string& out) {
  if (!n.IsScalar()) return false;
  out = n.Scalar();
  return true;
}
template <class T>
bool decode(const YAML::Node& n, std::optional<T>& out) {
  if (n.IsNull()) {
    out.reset();
    return true;
  }
  T v{};
  if (!decode(n, v)) return false;
  out = v;
  return true;
}
bool decode(const YAML::Node& n, std::vector<int>& out) {
  if (!n.IsSequence()) return false;
  out.clear();
  for (const auto& e : n) {
    int v;
    if (!decode(e, v)) return false;
    out.push_back(v);
  }
  return true;
}
bool decode(const YAML::Node& n, BetaSchedule& out) {
  if (n.IsSequence()) {
    out = BetaSchedule{};
    for (const auto& e : n) {
      double v;
      if (!decode(e, v)) return false;
      out.betas.push_back(v);
    }
    return true;
  }
  if (!n.IsMap() || n.size() != 1 || !n["linear"]) return false;
  const YAML::Node lin = n["linear"];
  if (!lin.IsMap() || lin.size() != 3) return false;
  double start, end;
  int steps;
  if (!lin["start"] || !lin["end"] || !lin["steps"]) return false;
  if (!decode(lin["start"], start) || !decode(lin["end"], end) || !decode(lin["steps"], steps)) return false;
  if (steps < 1) return false;
  out = BetaSchedule::make_linear(start, end, steps);
  return true;
}

template <class T> const char* expected(const T*) { return "a value"; }
const char* expected(const int*) { return "an integer"; }
const char* expected(const long long*) { return "an integer"; }
const char* expected(const double*) { return "a finite number"; }
const char* expected(const bool*) { return "true or false"; }
const char* expected(const std::string*) { return "a string"; }
const char* expected(const std::optional<int>*) { return "an integer or null"; }
const char* expected(const std::optional<double>*) { return "a finite number or null"; }
const char* expected(const std::vector<int>*) { return "a list of integers"; }
const char* expected(const BetaSchedule*) {
  return "a list of finite betas or {linear: {start: S, end: E, steps: N}}";
}

// Exact, shortest text for a double, so a config printed into a checkpoint reads back bit-equal.
std::string num(double v) { return fmt::format("{}", v); }

void emit(YAML::Emitter& out, int v) { out << v; }
void emit(YAML::Emitter& out, long long v) { out << v; }
void emit(YAML::Emitter& out, double v) { out << num(v); }
void emit(YAML::Emitter& out, bool v) { out << (v ? "true" : "false"); }
void emit(YAML::Emitter& out, const std::string& v) { out << YAML::DoubleQuoted << v; }
template <class T>
void emit(YAML::Emitter& out, const std::optional<T>& v) {
  if (v) emit(out, *v);
  else out << YAML::Null;
}
void emit(YAML::Emitter& out, const std::vector<int>& v) {
  out << YAML::Flow << YAML::BeginSeq;
  for (int x : v) out << x;
  out << YAML::EndSeq;
}
void emit(YAML::Emitter& out, const BetaSchedule& s) {
  if (s.linear) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "linear" << YAML::Value << YAML::BeginMap
        << YAML::Key << "start" << YAML::Value << num(s.linear->start) << YAML::Key << "end"
        << YAML::Value << num(s.linear->end) << YAML::Key << "steps" << YAML::Value
        << s.linear->steps << YAML::EndMap << YAML::EndMap;
    return;
  }
  out << YAML::Flow << YAML::BeginSeq;
  for (double b : s.betas) out << num(b);
  out << YAML::EndSeq;
}

// Keys that were renamed: configs and checkpoints written before still load, under the new name.
constexpr std::pair<const char*, const char*> kRenamedKeys[] = {{"audio_interval", "quality_interval"}};

YAML::Node with_renamed_keys(const YAML::Node& given, const std::string& source) {
  if (!given.IsMap() || !given["train"] || !given["train"].IsMap()) return given;
  YAML::Node root = YAML::Clone(given);
  YAML::Node train = root["train"];
  for (const auto& [old_name, new_name] : kRenamedKeys) {
    if (!train[old_name]) continue;
    if (train[new_name])
      throw ConfigError(fmt::format("{}: both 'train.{}' and its new name 'train.{}'; keep the second", source,
                                    old_name, new_name));
    train[new_name] = train[old_name];
    train.remove(old_name);
  }
  return root;
}

Config from_node(const YAML::Node& given, const std::string& source,
                 const std::set<std::string>& overridden) {
  if (given && !given.IsNull() && !given.IsMap())
    throw ConfigError(fmt::format("{}: expected a map of sections (audio, model, diffusion, train, prep)", source));
  const YAML::Node root = with_renamed_keys(given, source);
  // Unknown sections or keys are errors: a typo must not silently fall back to a default.
  const auto known = known_keys();
  if (root.IsMap()) {
    for (const auto& sec : root) {
      // A key that is not a name (`? [a, b]`, `{}:`) would make as<std::string> throw YAML's exception.
      if (!sec.first.IsScalar()) throw ConfigError(fmt::format("{}: section name {} is not a name", source, show(sec.first)));
      const auto name = sec.first.Scalar();
      if (!sec.second.IsMap())
        throw ConfigError(fmt::format("{}: '{}' is not a known section with keys", source, name));
      for (const auto& kv : sec.second) {
        if (!kv.first.IsScalar())
          throw ConfigError(fmt::format("{}: a key of section '{}' is not a name: {}", source, name, show(kv.first)));
        const auto key = name + "." + kv.first.Scalar();
        if (!known.count(key))
          throw ConfigError(fmt::format("{}: unknown key '{}'", overridden.count(key) ? "--set" : source, key));
      }
    }
  }
  Config c;
  visit_fields(c, [&](const char* key, auto& field) {
    const YAML::Node n = lookup(root, key);
    if (!n.IsDefined()) {
      c.origin[key] = "default";
      return;
    }
    const std::string from = overridden.count(key) ? "--set" : source;
    c.origin[key] = from;
    if (!decode(n, field))
      throw ConfigError(fmt::format("{}: key '{}' expects {}, got '{}'", from, key,
                                    expected(&field), show(n)));
  });
  return c;
}

}  // namespace

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node root(YAML::NodeType::Map);
  if (!path.empty()) {
    std::ifstream in(path);
    if (!in) throw ConfigError(fmt::format("{}: cannot open config file", path));
    try {
      root = YAML::Load(in);
    } catch (const YAML::Exception& e) {
      throw ConfigError(fmt::format("{}: invalid YAML: {}", path, e.what()));
    }
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) throw ConfigError(fmt::format("{}: expected a map of sections", path));
  }
  const auto known = known_keys();
  std::set<std::string> overridden;
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(fmt::format("--set '{}': expected key=value, e.g. train.batch_size=32", o));
    const std::string key = o.substr(0, eq);
    if (!known.count(key)) throw ConfigError(fmt::format("--set: unknown key '{}'", key));
    YAML::Node value;
    try {
      value = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      throw ConfigError(fmt::format("--set {}: invalid value: {}", key, e.what()));
    }
    auto [section, leaf] = split_key(key);
    if (!root[section] || !root[section].IsMap()) root[section] = YAML::Node(YAML::NodeType::Map);
    root[section][leaf] = value;
    overridden.insert(key);
  }
  return from_node(root, path.empty() ? "defaults" : path, overridden);
}

Config Config::from_yaml(const std::string& text, const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: invalid YAML: {}", source_name, e.what()));
  }
  return from_node(root, source_name, {});
}

std::string Config::origin_of(const std::string& key) const {
  auto it = origin.find(key);
  return it == origin.end() ? "default" : it->second;
}

void Config::validate(int world_size) const {
  auto fail = [&](const std::string& key, const std::string& why) {
    throw ConfigError(fmt::format("{}: {} {}", origin_of(key), key, why));
  };
  const auto& a = audio;
  if (a.sample_rate <= 0) fail("audio.sample_rate", "must be positive");
  if (a.n_fft <= 0) fail("audio.n_fft", "must be positive");
  if (a.hop_samples <= 0) fail("audio.hop_samples", "must be positive");
  if (a.n_mels <= 0) fail("audio.n_mels", "must be positive");
  if (a.resolved_win_length() <= 0 || a.resolved_win_length() > a.n_fft)
    fail("audio.win_length", fmt::format("= {} must be in 1..n_fft ({})", a.resolved_win_length(), a.n_fft));
  if (a.f_min < 0) fail("audio.f_min", "must be >= 0");
  if (a.resolved_f_max() <= a.f_min || a.resolved_f_max() > a.sample_rate / 2.0)
    fail("audio.f_max", fmt::format("= {} must be in (f_min, sample_rate / 2 = {}]", a.resolved_f_max(),
                                    a.sample_rate / 2.0));

  const auto& m = model;
  if (m.residual_channels <= 0) fail("model.residual_channels", "must be positive");
  if (m.residual_layers <= 0) fail("model.residual_layers", "must be positive");
  // Layer i dilates by 2^(i mod cycle); 2^31 is far beyond any input, and keeps the receptive
  // field's sum over layers within 64 bits.
  if (m.dilation_cycle_length <= 0 || m.dilation_cycle_length > kMaxDilationCycle)
    fail("model.dilation_cycle_length", fmt::format("= {} must be in 1..{}", m.dilation_cycle_length, kMaxDilationCycle));
  if (m.kernels != "auto" && m.kernels != "fused" && m.kernels != "reference")
    fail("model.kernels", fmt::format("is '{}', expected auto, fused or reference", m.kernels));
  if (!m.unconditional) {
    if (m.upsample_factors.empty()) fail("model.upsample_factors", "must list at least one factor");
    long long product = 1;
    for (int f : m.upsample_factors) {
      if (f <= 0) fail("model.upsample_factors", "must all be positive");
      if (__builtin_mul_overflow(product, f, &product) || product > std::numeric_limits<int>::max())
        fail("model.upsample_factors", fmt::format("multiply to more than {}: audio.hop_samples is {} ({})",
                                                   std::numeric_limits<int>::max(), a.hop_samples,
                                                   origin_of("audio.hop_samples")));
    }
    if (product != a.hop_samples)
      fail("model.upsample_factors",
           fmt::format("multiply to {}, but audio.hop_samples is {} ({}): they must be equal",
                       product, a.hop_samples, origin_of("audio.hop_samples")));
  }

  const auto& d = diffusion;
  for (const auto* key : {"diffusion.noise_schedule", "diffusion.inference_noise_schedule"}) {
    const auto& s = std::string(key) == "diffusion.noise_schedule" ? d.noise_schedule : d.inference_noise_schedule;
    if (s.betas.empty()) fail(key, "is empty");
    for (size_t i = 0; i < s.betas.size(); ++i)
      if (!(s.betas[i] > 0.0 && s.betas[i] < 1.0))
        fail(key, fmt::format("step {} has beta {}, outside (0, 1)", i, s.betas[i]));
  }
  if (d.noise_schedule.betas.size() < 2) fail("diffusion.noise_schedule", "needs at least 2 steps");
  try {
    align_inference_steps(NoiseSchedule(d.noise_schedule.betas), d.inference_noise_schedule.betas);
  } catch (const Error& e) {
    fail("diffusion.inference_noise_schedule", e.what());
  }
  if (d.loss != "l1" && d.loss != "l2") fail("diffusion.loss", fmt::format("is '{}', expected l1 or l2", d.loss));

  const auto& t = train;
  if (t.batch_size <= 0) fail("train.batch_size", "must be positive");
  if (world_size > 0 && t.batch_size % world_size != 0)
    fail("train.batch_size", fmt::format("= {} is not divisible by the number of ranks ({}): each rank "
                                         "takes an equal part of the global batch",
                                         t.batch_size, world_size));
  if (!(t.learning_rate > 0)) fail("train.learning_rate", "must be positive");
  if (!(t.max_grad_norm > 0)) fail("train.max_grad_norm", "must be positive");
  if (t.crop_mel_frames <= 0) fail("train.crop_mel_frames", "must be positive");
  if (t.audio_len <= 0) fail("train.audio_len", "must be positive");
  if (t.max_steps < 0) fail("train.max_steps", "must be >= 0");
  for (auto [key, value] : {std::pair{"train.checkpoint_interval", t.checkpoint_interval},
                            {"train.keep_checkpoints", t.keep_checkpoints}, {"train.log_interval", t.log_interval},
                            {"train.grad_accumulation", t.grad_accumulation},
                            {"train.max_nonfinite_steps", t.max_nonfinite_steps}})
    if (value <= 0) fail(key, "must be positive");
  for (auto [key, value] : {std::pair{"train.validation_interval", t.validation_interval},
                            {"train.validation_items", t.validation_items}, {"train.quality_interval", t.quality_interval},
                            {"train.lr_warmup_steps", t.lr_warmup_steps}, {"train.profile_steps", t.profile_steps}})
    if (value < 0) fail(key, "must be >= 0");
  if (!(t.ema_decay >= 0.0 && t.ema_decay < 1.0)) fail("train.ema_decay", "must be in [0, 1)");
  if (!(t.quality_seconds > 0 && t.quality_seconds <= 600))
    fail("train.quality_seconds", "must be in (0, 600] (seconds of audio per validation synthesis)");
  if (!(t.bucket_cap_mb > 0 && t.bucket_cap_mb <= kMaxBucketCapMb))
    fail("train.bucket_cap_mb", fmt::format("= {} must be in (0, {}] (MB)", t.bucket_cap_mb, kMaxBucketCapMb));
  if (!(t.comm_timeout > 0)) fail("train.comm_timeout", "must be positive (seconds)");
  if (t.max_time < 0) fail("train.max_time", "must be >= 0 (seconds; 0 means no limit)");
  if (t.lr_decay != "constant" && t.lr_decay != "linear" && t.lr_decay != "cosine")
    fail("train.lr_decay", fmt::format("is '{}', expected constant, linear or cosine", t.lr_decay));
  if (!(t.lr_min >= 0 && t.lr_min <= t.learning_rate)) fail("train.lr_min", "must be in [0, learning_rate]");
  if (t.cuda_graphs && t.grad_accumulation != 1)
    fail("train.cuda_graphs", "needs train.grad_accumulation = 1 (the graph holds one micro-step)");
  if (t.precision != "fp32" && t.precision != "bf16")
    fail("train.precision", fmt::format("is '{}', expected fp32 or bf16", t.precision));
  if (t.device != "auto" && t.device != "cuda" && t.device != "cpu")
    fail("train.device", fmt::format("is '{}', expected auto, cuda or cpu", t.device));
  if (world_size > 0 && (t.batch_size / world_size) % t.grad_accumulation != 0)
    fail("train.grad_accumulation", fmt::format("= {} does not divide the per-rank batch ({} / {} ranks)",
                                                t.grad_accumulation, t.batch_size, world_size));

  const auto& p = prep;
  if (!(p.validation_fraction >= 0.0 && p.validation_fraction <= 1.0))
    fail("prep.validation_fraction", "must be in [0, 1]");
  if (p.min_frames && *p.min_frames <= 0) fail("prep.min_frames", "must be positive (or null)");
  if (!(p.shard_hours > 0)) fail("prep.shard_hours", "must be positive");
  if (p.audio_dtype != "int16" && p.audio_dtype != "float32")
    fail("prep.audio_dtype", fmt::format("is '{}', expected int16 or float32", p.audio_dtype));
  if (p.compression != "none" && p.compression != "gzip")
    fail("prep.compression", fmt::format("is '{}', expected none or gzip", p.compression));
}

std::string Config::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string open_section;
  Config& self = const_cast<Config&>(*this);  // visit_fields takes non-const; nothing is written
  visit_fields(self, [&](const char* key, auto& field) {
    auto [section, leaf] = split_key(key);
    if (section != open_section) {
      if (!open_section.empty()) out << YAML::EndMap;
      out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      open_section = section;
    }
    out << YAML::Key << leaf << YAML::Value;
    emit(out, field);
  });
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace diffwave
