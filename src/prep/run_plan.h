// Rank 0's decision before any decoding: the corpus, the fingerprints of inputs and config, and
// whether OUT is up to date, resumable, fresh, or holds a different run (an error). Sent to every
// rank as one string.
#pragma once
#include <string>

#include "common/config.h"
#include "data/corpus.h"

namespace diffwave::prep {

struct PrepOptions;

// What rank 0 found and decided before any decoding, sent to every rank.
struct Plan {
  std::string error;  // non-empty: every rank stops with exit code 2
  std::string action;  // "up-to-date", "fresh" or "resume"
  Corpus corpus;
  std::string inputs_fp, config_fp;

  std::string encode() const;
  static Plan decode(const std::string& text);
};

// Finds the corpus under options.input and inspects options.output (creating its folders; on a
// fresh start or with --force, deleting what an earlier run wrote). Problems go to Plan::error.
Plan make_plan(const PrepOptions& options, const Config& config, int world_size);

}  // namespace diffwave::prep
