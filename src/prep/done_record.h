// A rank's record of finished work, OUT/.prep/rank-RRRR.done.jsonl, so an interrupted run
// resumes: one JSON line per finished shard (and one for the tail of the run), holding the
// results of every input the rank handled since the previous line. A line is appended and
// fsync'ed only after its shard was renamed into place, so whatever a line names is complete.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "prep/input_check.h"

namespace diffwave::prep {

// One input's outcome, as the manifest and report need it (the samples themselves are in a shard).
struct InputResult {
  int64_t index = 0;  // position in the sorted corpus
  Status status = Status::rejected;
  std::string reason;
  std::string content_hash;  // set when the input passed its checks (duplicates included)
  int64_t samples = 0;       // stored length when accepted
};

struct FinishedShard {
  std::string name;  // file name inside OUT/shards
  std::string sha256;
  int64_t bytes = 0, utterances = 0, validation_utterances = 0, samples = 0;
};

struct DoneBlock {
  std::optional<FinishedShard> shard;  // none for a tail that ended with no open shard
  int64_t rounds_done = 0;             // rounds of the run complete on this rank when written
  std::vector<InputResult> results;
};

class DoneRecord {
 public:
  explicit DoneRecord(std::string path) : path_(std::move(path)) {}
  // The blocks that can be trusted: stops at a torn line or at a shard that is missing or whose
  // size changed (a full checksum is --verify's job), and rewrites the file to those blocks.
  std::vector<DoneBlock> load_trusted(const std::string& shard_dir);
  // Appends one block and fsyncs; throws Error naming the file when it cannot.
  void append(const DoneBlock& block);

 private:
  void write_all(const std::vector<std::string>& lines);
  std::string path_;
};

std::string to_json_line(const DoneBlock& block);
std::optional<DoneBlock> from_json_line(const std::string& line);  // nullopt when malformed

// Everything one rank sends rank 0 at the end, in the same encoding as the record.
struct RankResults {
  std::vector<InputResult> results;
  std::vector<FinishedShard> shards;
  int64_t processed = 0;  // inputs decoded in this run (not replayed from the record)
};
std::string encode(const RankResults& r);
RankResults decode_rank_results(const std::string& text);  // throws Error when malformed

}  // namespace diffwave::prep
