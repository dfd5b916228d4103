#include "prep/run_plan.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "data/checksum.h"
#include "data/manifest.h"
#include "data/shard_format.h"
#include "prep/prep_job.h"

namespace diffwave::prep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Everything a shard's bytes depend on besides the inputs; a change means a new run.
std::string config_fingerprint(const Config& c) {
  std::string text = fmt::format("format={} norm={} checks=v1", kShardFormatVersion, kMelNormalisation);
  for (const auto& p : shard_parameters(c.audio)) text += fmt::format(" {}={}", p.name, p.value);
  text += fmt::format(" min_frames={} validation_fraction={} shard_hours={} audio_dtype={} compression={}",
                      c.prep.resolved_min_frames(c.train.crop_mel_frames), c.prep.validation_fraction,
                      c.prep.shard_hours, c.prep.audio_dtype, c.prep.compression);
  return sha256_hex(text);
}

// Paths, ids, sizes and modification times: a cheap stat per input, no decoding.
std::string inputs_fingerprint(const Corpus& corpus) {
  Sha256 h;
  for (const auto& f : corpus.files) {
    struct stat st {};
    const bool found = ::stat(f.path.c_str(), &st) == 0;
    h.update(fmt::format("{}\t{}\t{}\t{}\t{}.{}\n", f.path, f.id, f.problem, found ? st.st_size : -1,
                         found ? st.st_mtim.tv_sec : 0, found ? st.st_mtim.tv_nsec : 0));
  }
  return h.hex_digest();
}

bool manifest_up_to_date(const fs::path& out, const Plan& p) {
  const auto path = out / "manifest.json";
  if (!fs::exists(path) || !fs::exists(out / "report.tsv")) return false;
  try {
    const auto m = Manifest::load(path.string());
    if (m.inputs_fingerprint != p.inputs_fp || m.config_fingerprint != p.config_fp) return false;
    for (const auto& s : m.shards) {
      std::error_code ec;
      if (static_cast<int64_t>(fs::file_size(out / s.path, ec)) != s.bytes || ec) return false;
    }
    return true;
  } catch (const DataError&) {
    return false;
  }
}

// Removes only what diffwave-prep writes, never other files a user keeps in OUT.
void remove_previous_run(const fs::path& out) {
  std::error_code ec;
  for (const char* name : {"manifest.json", "manifest.json.tmp", "report.tsv", "report.tsv.tmp"}) fs::remove(out / name, ec);
  for (const auto* dir : {"shards", ".prep"}) {
    if (!fs::is_directory(out / dir)) continue;
    for (const auto& e : fs::directory_iterator(out / dir)) {
      const auto name = e.path().filename().string();
      if (name.rfind("shard-r", 0) == 0 || name.rfind("rank-", 0) == 0 || name == "plan.json") fs::remove(e.path(), ec);
    }
  }
}

}  // namespace

std::string Plan::encode() const {
  json files = json::array();
  for (const auto& f : corpus.files) files.push_back({f.path, f.id, f.problem});
  return json{{"error", error}, {"action", action}, {"kind", corpus.kind}, {"files", files},
              {"inputs_fp", inputs_fp}, {"config_fp", config_fp}}
      .dump();
}

Plan Plan::decode(const std::string& text) {
  const json j = json::parse(text);
  Plan p;
  p.error = j.at("error");
  p.action = j.at("action");
  p.corpus.kind = j.at("kind");
  for (const auto& f : j.at("files")) p.corpus.files.push_back({f.at(0), f.at(1), f.at(2)});
  p.inputs_fp = j.at("inputs_fp");
  p.config_fp = j.at("config_fp");
  return p;
}

// Rank 0: find the corpus and decide between "up to date", a fresh run and a resume.
Plan make_plan(const PrepOptions& o, const Config& config, int world_size) {
  Plan p;
  try {
    p.corpus = discover_corpus(o.input);
  } catch (const Error& e) {
    p.error = e.what();
    return p;
  }
  if (p.corpus.files.empty()) {
    p.error = fmt::format("--input {}: no audio files found (.wav .flac .ogg .mp3, any case)", o.input);
    return p;
  }
  p.inputs_fp = inputs_fingerprint(p.corpus);
  p.config_fp = config_fingerprint(config);
  const fs::path out(o.output);
  try {
    fs::create_directories(out / "shards");
    fs::create_directories(out / ".prep");
  } catch (const fs::filesystem_error& e) {
    p.error = fmt::format("--output {}: cannot create folders: {}", o.output, e.code().message());
    return p;
  }
  if (!o.force && manifest_up_to_date(out, p)) {
    p.action = "up-to-date";
    return p;
  }
  const json plan = {{"inputs", p.inputs_fp}, {"config", p.config_fp}, {"world_size", world_size},
                     {"files_per_round", o.files_per_round}};
  const auto plan_path = out / ".prep" / "plan.json";
  std::ifstream previous(plan_path);
  json old;
  if (previous) {
    try {
      old = json::parse(previous);
    } catch (const json::exception&) {
    }
  }
  const bool leftovers = previous || fs::exists(out / "manifest.json") || !fs::is_empty(out / "shards");
  if (leftovers && old == plan && !o.force) {
    p.action = "resume";
    return p;
  }
  if (leftovers && !o.force) {
    std::string what;
    for (const char* key : {"inputs", "config", "world_size", "files_per_round"})
      if (!old.is_object() || old.value(key, json()) != plan[key]) what += what.empty() ? key : std::string(", ") + key;
    p.error = fmt::format(
        "--output {} holds an unfinished or finished run that differs in: {} (the rank count and --files-per-round "
        "must match to resume); pass --force to discard it, or choose another --output",
        o.output, what);
    return p;
  }
  remove_previous_run(out);
  std::ofstream plan_out(plan_path);
  plan_out << plan.dump(2) << "\n";
  if (!plan_out.flush()) {
    p.error = fmt::format("{}: cannot write (no permission or disk full?)", plan_path.string());
    return p;
  }
  p.action = "fresh";
  return p;
}

}  // namespace diffwave::prep
