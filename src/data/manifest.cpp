#include "data/manifest.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_integer.h"
#include "data/checksum.h"
#include "data/shard_format.h"

namespace diffwave {

using nlohmann::json;

int64_t Manifest::utterances() const {
  int64_t n = 0;
  for (const auto& s : shards) n += s.utterances;
  return n;
}

double Manifest::hours() const {
  double h = 0;
  for (const auto& s : shards) h += s.hours;
  return h;
}

bool is_validation_id(const std::string& id, double fraction) {
  const std::string d = Sha256().update(id).digest();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<unsigned char>(d[static_cast<size_t>(i)]);
  return static_cast<double>(v) / 18446744073709551616.0 < fraction;
}

void Manifest::save(const std::string& path) const {
  json audio_json = {{"audio_dtype", audio_dtype}, {"mel_normalisation", kMelNormalisation}, {"compression", compression}};
  for (const auto& p : shard_parameters(audio)) {
    if (p.integer) audio_json[p.name] = static_cast<int64_t>(p.value);
    else audio_json[p.name] = p.value;
  }
  json shard_list = json::array();
  for (const auto& s : shards)
    shard_list.push_back({{"path", s.path}, {"sha256", s.sha256}, {"bytes", s.bytes}, {"utterances", s.utterances},
                          {"validation_utterances", s.validation_utterances}, {"hours", s.hours}});
  const json doc = {
      {"format_version", format_version},
      {"fingerprints", {{"inputs", inputs_fingerprint}, {"config", config_fingerprint}}},
      {"audio", audio_json},
      {"split", {{"rule", kSplitRule}, {"validation_fraction", validation_fraction}, {"validation_ids", validation_ids}}},
      {"shards", shard_list},
      {"totals",
       {{"inputs", inputs}, {"accepted", accepted}, {"warnings", warnings}, {"rejected", rejected},
        {"utterances", utterances()}, {"hours", hours()}}},
  };
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(2) << "\n";
    out.flush();
    if (!out) throw DataError(fmt::format("{}: cannot write manifest: {}", tmp, std::strerror(errno)));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw DataError(fmt::format("{}: cannot rename manifest into place: {}", path, ec.message()));
}

Manifest Manifest::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw DataError(fmt::format("{}: cannot open manifest: {}", path, std::strerror(errno)));
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {
    throw DataError(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
  std::string key;
  try {
    Manifest m;
    auto at = [&](const json& j, const char* name) -> const json& {
      key = name;
      return j.at(name);
    };
    m.format_version = json_integer(at(doc, "format_version"));
    if (m.format_version != kShardFormatVersion)
      throw DataError(fmt::format("{}: manifest format version {}, this build reads {}", path, m.format_version,
                                  kShardFormatVersion));
    const auto& fp = at(doc, "fingerprints");
    m.inputs_fingerprint = at(fp, "inputs").get<std::string>();
    m.config_fingerprint = at(fp, "config").get<std::string>();
    const auto& a = at(doc, "audio");
    m.audio.sample_rate = json_integer<int>(at(a, "sample_rate"));
    m.audio.n_fft = json_integer<int>(at(a, "n_fft"));
    m.audio.win_length = json_integer<int>(at(a, "win_length"));
    m.audio.hop_samples = json_integer<int>(at(a, "hop_samples"));
    m.audio.n_mels = json_integer<int>(at(a, "n_mels"));
    m.audio.f_min = at(a, "f_min").get<double>();
    m.audio.f_max = at(a, "f_max").get<double>();
    m.audio_dtype = at(a, "audio_dtype").get<std::string>();
    m.compression = at(a, "compression").get<std::string>();
    const auto& split = at(doc, "split");
    m.validation_fraction = at(split, "validation_fraction").get<double>();
    m.validation_ids = at(split, "validation_ids").get<std::vector<std::string>>();
    for (const auto& s : at(doc, "shards")) {
      ManifestShard e;
      e.path = at(s, "path").get<std::string>();
      e.sha256 = at(s, "sha256").get<std::string>();
      e.bytes = json_integer(at(s, "bytes"));
      e.utterances = json_integer(at(s, "utterances"));
      e.validation_utterances = json_integer(at(s, "validation_utterances"));
      e.hours = at(s, "hours").get<double>();
      m.shards.push_back(e);
    }
    const auto& t = at(doc, "totals");
    m.inputs = json_integer(at(t, "inputs"));
    m.accepted = json_integer(at(t, "accepted"));
    m.warnings = json_integer(at(t, "warnings"));
    m.rejected = json_integer(at(t, "rejected"));
    return m;
  } catch (const json::exception& e) {
    throw DataError(fmt::format("{}: malformed manifest near key '{}': {}", path, key, e.what()));
  }
}

}  // namespace diffwave
