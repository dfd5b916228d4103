// What diffwave-prep tells its user: OUT/report.tsv (one row per input), the progress line on
// stderr while it runs, and the summary at the end.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "prep/input_check.h"

namespace diffwave::prep {

struct ReportRow {
  std::string path;
  Status status = Status::rejected;
  std::string reason;
};

// Header "path<TAB>status<TAB>reason"; tabs and newlines inside a field become spaces.
// Written to a temporary name and renamed. Throws Error naming the path when it cannot be written.
void write_report(const std::string& path, const std::vector<ReportRow>& rows);

struct Summary {
  int64_t accepted = 0, warnings = 0, rejected = 0;  // accepted includes warnings
  std::map<std::string, int64_t> rejected_by_reason;
  double hours = 0;
  double seconds = 0;  // wall time of this run
  int64_t processed = 0;  // inputs decoded in this run (not taken from a resumed record)

  void add(const ReportRow& row);
  std::string text() const;  // several lines, for stderr
};

// A line on stderr, at most once per `interval`: files/s, audio hours accepted, ETA.
class Progress {
 public:
  explicit Progress(int64_t total_files, double interval_seconds = 2.0);
  void update(int64_t files_done, int64_t files_processed, double hours, bool force = false);
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_;
  double interval_;
  bool tty_;
  Clock::time_point start_, last_;
  bool printed_ = false;
};

}  // namespace diffwave::prep
