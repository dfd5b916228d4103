// diffwave-prep's done-records (OUT/.prep/rank-RRRR.done.jsonl) and the per-rank results rank 0
// decodes (src/prep/done_record.cpp). The input is a record file: load_trusted reads it against a
// shard folder holding one shard, each line goes through from_json_line, and the whole text through
// decode_rank_results. Parsers may fail (nullopt, diffwave::Error), never crash; a block that
// parses must encode and parse back to the same line.
#include <filesystem>

#include "common/error.h"
#include "prep/done_record.h"
#include "fuzz_util.h"

using namespace diffwave;
using namespace diffwave::prep;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::filesystem::create_directories(fuzz::path("shards"));
  fuzz::write_file("shards/shard-r0000-00000.h5", "0123456789");  // 10 bytes
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string record = fuzz::write_file("rank-0000.done.jsonl", text);
  {
    DoneRecord r(record);
    for (const auto& b : r.load_trusted(fuzz::path("shards"))) {
      const std::string line = to_json_line(b);
      const auto back = from_json_line(line);
      if (!back || to_json_line(*back) != line) fuzz::fail("a trusted block does not encode and parse back: " + line);
    }
  }
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t nl = text.find('\n', pos);
    const std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (const auto b = from_json_line(line)) {
      const std::string again = to_json_line(*b);
      const auto back = from_json_line(again);
      if (!back || to_json_line(*back) != again) fuzz::fail("a block does not encode and parse back: " + again);
    }
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  try {
    const RankResults r = decode_rank_results(text);
    const auto back = decode_rank_results(encode(r));
    if (encode(back) != encode(r)) fuzz::fail("rank results do not encode and decode back");
  } catch (const Error&) {
  }
  return 0;
}
