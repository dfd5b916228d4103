#include "prep/done_record.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_integer.h"

namespace diffwave::prep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json to_json(const InputResult& r) {
  return json::array({r.index, static_cast<int>(r.status), r.reason, r.content_hash, r.samples});
}

InputResult result_from(const json& j) {
  return {json_integer(j.at(0)), static_cast<Status>(json_integer<int>(j.at(1))), j.at(2).get<std::string>(),
          j.at(3).get<std::string>(), json_integer(j.at(4))};
}

json to_json(const FinishedShard& s) {
  return {{"name", s.name}, {"sha256", s.sha256}, {"bytes", s.bytes}, {"utterances", s.utterances},
          {"validation_utterances", s.validation_utterances}, {"samples", s.samples}};
}

FinishedShard shard_from(const json& j) {
  return {j.at("name").get<std::string>(), j.at("sha256").get<std::string>(), json_integer(j.at("bytes")),
          json_integer(j.at("utterances")), json_integer(j.at("validation_utterances")), json_integer(j.at("samples"))};
}

json results_json(const std::vector<InputResult>& results) {
  json out = json::array();
  for (const auto& r : results) out.push_back(to_json(r));
  return out;
}

}  // namespace

std::string to_json_line(const DoneBlock& b) {
  json j = {{"rounds_done", b.rounds_done}, {"results", results_json(b.results)}};
  if (b.shard) j["shard"] = to_json(*b.shard);
  return j.dump();
}

std::optional<DoneBlock> from_json_line(const std::string& line) {
  try {
    const json j = json::parse(line);
    DoneBlock b;
    b.rounds_done = json_integer(j.at("rounds_done"));
    for (const auto& r : j.at("results")) b.results.push_back(result_from(r));
    if (j.contains("shard")) b.shard = shard_from(j.at("shard"));
    return b;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::string encode(const RankResults& r) {
  json shards = json::array();
  for (const auto& s : r.shards) shards.push_back(to_json(s));
  return json{{"results", results_json(r.results)}, {"shards", shards}, {"processed", r.processed}}.dump();
}

RankResults decode_rank_results(const std::string& text) {
  try {
    const json j = json::parse(text);
    RankResults r;
    for (const auto& x : j.at("results")) r.results.push_back(result_from(x));
    for (const auto& s : j.at("shards")) r.shards.push_back(shard_from(s));
    r.processed = json_integer(j.at("processed"));
    return r;
  } catch (const json::exception& e) {
    throw Error(fmt::format("malformed results from a rank: {}", e.what()));
  }
}

std::vector<DoneBlock> DoneRecord::load_trusted(const std::string& shard_dir) {
  std::vector<DoneBlock> blocks;
  std::vector<std::string> kept;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    auto block = from_json_line(line);
    if (!block) break;  // torn by an interruption: this and anything after is redone
    if (block->shard) {
      std::error_code ec;
      const auto size = fs::file_size(fs::path(shard_dir) / block->shard->name, ec);
      if (ec || static_cast<int64_t>(size) != block->shard->bytes) break;
    }
    blocks.push_back(std::move(*block));
    kept.push_back(line);
  }
  in.close();
  write_all(kept);
  return blocks;
}

namespace {
void write_synced(const std::string& path, const std::string& text, int flags) {
  const int fd = ::open(path.c_str(), flags | O_WRONLY | O_CREAT, 0644);
  if (fd < 0) throw Error(fmt::format("{}: cannot open the done record: {}", path, std::strerror(errno)));
  size_t pos = 0;
  while (pos < text.size()) {
    const ssize_t n = ::write(fd, text.data() + pos, text.size() - pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(fmt::format("{}: cannot write the done record: {}", path, std::strerror(err)));
    }
    pos += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw Error(fmt::format("{}: cannot sync the done record: {}", path, std::strerror(errno)));
}
}  // namespace

void DoneRecord::write_all(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  write_synced(path_, text, O_TRUNC);
}

void DoneRecord::append(const DoneBlock& block) { write_synced(path_, to_json_line(block) + "\n", O_APPEND); }

}  // namespace diffwave::prep
