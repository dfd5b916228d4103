#include "prep/report.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace diffwave::prep {

namespace {
std::string field(std::string s) {
  std::replace_if(s.begin(), s.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  return s;
}
}  // namespace

void write_report(const std::string& path, const std::vector<ReportRow>& rows) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "path\tstatus\treason\n";
    for (const auto& r : rows) out << field(r.path) << '\t' << status_name(r.status) << '\t' << field(r.reason) << '\n';
    out.flush();
    if (!out) throw Error(fmt::format("{}: cannot write the report: {}", tmp, std::strerror(errno)));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(fmt::format("{}: cannot rename the report into place: {}", path, ec.message()));
}

void Summary::add(const ReportRow& row) {
  if (row.status == Status::rejected) {
    ++rejected;
    ++rejected_by_reason[reason_code(row.reason)];
    return;
  }
  ++accepted;
  if (row.status == Status::warning) ++warnings;
}

std::string Summary::text() const {
  std::string s = fmt::format("accepted {} ({} with warnings), rejected {}, {:.3f} h of audio\n", accepted, warnings,
                              rejected, hours);
  for (const auto& [code, n] : rejected_by_reason) s += fmt::format("  rejected {:>8}  {}\n", n, code);
  const double rate = seconds > 0 ? processed / seconds : 0;
  s += fmt::format("{} files decoded in {:.1f} s: {:.1f} files/s", processed, seconds, rate);
  return s;
}

Progress::Progress(int64_t total_files, double interval_seconds)
    : total_(total_files), interval_(interval_seconds), tty_(isatty(STDERR_FILENO) != 0), start_(Clock::now()), last_(start_) {}

void Progress::update(int64_t done, int64_t processed, double hours, bool force) {
  const auto now = Clock::now();
  if (!force && std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? processed / elapsed : 0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  std::fprintf(stderr, "%s[prep] %lld/%lld files, %.1f files/s, %.3f h accepted, ETA %.0f s%s", tty_ ? "\r" : "",
               static_cast<long long>(done), static_cast<long long>(total_), rate, hours, eta, tty_ ? "   " : "\n");
  std::fflush(stderr);
  printed_ = true;
}

void Progress::finish() {
  if (printed_ && tty_) std::fputc('\n', stderr);
}

}  // namespace diffwave::prep
