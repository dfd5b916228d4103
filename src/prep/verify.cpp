#include "prep/verify.h"

#include <fmt/format.h>

#include <filesystem>

#include "common/error.h"
#include "data/checksum.h"
#include "data/manifest.h"
#include "data/shard_reader.h"

namespace diffwave::prep {

namespace fs = std::filesystem;

int run_verify(const std::string& output) {
  const auto manifest_path = (fs::path(output) / "manifest.json").string();
  Manifest m;
  try {
    m = Manifest::load(manifest_path);
  } catch (const DataError& e) {
    fmt::print(stderr, "verify: {}\n", e.what());
    return 1;
  }
  int bad = 0;
  for (const auto& s : m.shards) {
    const auto path = (fs::path(output) / s.path).string();
    try {
      const auto sum = sha256_file(path);
      if (sum != s.sha256)
        throw DataError(fmt::format("{}: sha256 {} differs from the manifest's {}", path, sum, s.sha256));
      ShardReader reader(path, m.audio, manifest_path);
      int64_t validation = 0;
      for (size_t i = 0; i < reader.size(); ++i) validation += reader.is_validation(i) ? 1 : 0;
      if (static_cast<int64_t>(reader.size()) != s.utterances || validation != s.validation_utterances)
        throw DataError(fmt::format("{}: holds {} utterances ({} validation), the manifest says {} ({})", path,
                                    reader.size(), validation, s.utterances, s.validation_utterances));
      if (reader.audio_dtype() != m.audio_dtype)
        throw DataError(fmt::format("{}: audio_dtype {} differs from the manifest's {}", path, reader.audio_dtype(),
                                    m.audio_dtype));
    } catch (const Error& e) {
      fmt::print(stderr, "verify: BAD {}\n", e.what());
      ++bad;
    }
  }
  if (bad > 0) {
    fmt::print(stderr, "verify: {} of {} shard(s) differ from {}\n", bad, m.shards.size(), manifest_path);
    return 1;
  }
  fmt::print(stderr, "verify: all {} shard(s) match {} ({} utterances, {:.3f} h)\n", m.shards.size(), manifest_path,
             m.utterances(), m.hours());
  return 0;
}

}  // namespace diffwave::prep
