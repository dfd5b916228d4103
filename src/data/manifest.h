// OUT/manifest.json of a prepared corpus: the shards with their checksums, what they were made
// from (fingerprints of the inputs and the config), the audio parameters and the train/validation
// split. Written by diffwave-prep, read by --verify and by the trainer. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace diffwave {

struct ManifestShard {
  std::string path;  // relative to the manifest's folder
  std::string sha256;
  int64_t bytes = 0;
  int64_t utterances = 0;
  int64_t validation_utterances = 0;
  double hours = 0;
};

struct Manifest {
  int64_t format_version = 1;
  std::string inputs_fingerprint;  // sha256 over every input's path, id, size and mtime
  std::string config_fingerprint;  // sha256 over every key that changes the shards
  AudioConfig audio;               // win_length and f_max resolved
  std::string audio_dtype;
  std::string compression;
  double validation_fraction = 0;
  std::vector<std::string> validation_ids;
  std::vector<ManifestShard> shards;
  int64_t inputs = 0, accepted = 0, warnings = 0, rejected = 0;

  int64_t utterances() const;
  double hours() const;

  // Throws DataError naming the file and the key on a missing file or a malformed document.
  static Manifest load(const std::string& path);
  // Writes to a temporary name, then renames: a reader never sees half a manifest.
  void save(const std::string& path) const;
};

// The split rule: an utterance is in validation when the first 8 bytes of sha256(id), read as
// a big-endian integer and divided by 2^64, fall below `fraction`. Depends on nothing but the id.
bool is_validation_id(const std::string& id, double fraction);
inline constexpr const char* kSplitRule = "sha256(id)[0:8] as big-endian uint64 / 2^64 < validation_fraction";

}  // namespace diffwave
