#include "distributed/watchdog.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace diffwave {

namespace {
constexpr size_t kRecent = 16;
constexpr size_t kRecordBytes = 256;  // fixed-size heartbeat record, rewritten in place
constexpr double kRefreshSeconds = 1.0;
constexpr double kStaleSeconds = 3.0;  // several missed refreshes

std::string heartbeat_path(const std::string& dir, int rank) { return fmt::format("{}/rank-{:05d}", dir, rank); }

double wall_seconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}
}  // namespace

Watchdog::Watchdog(std::string dir, int rank, int world, double timeout, StallHandler on_stall)
    : dir_(std::move(dir)), rank_(rank), world_(world), timeout_(timeout), on_stall_(std::move(on_stall)),
      t0_(std::chrono::steady_clock::now()) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  const auto path = heartbeat_path(dir_, rank_);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0) throw Error(fmt::format("{}: cannot write the heartbeat file: {}", path, std::strerror(errno)));
  publish(0, false, "start");
  thread_ = std::thread([this] { loop(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

double Watchdog::now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Watchdog::publish(uint64_t seq, bool pending, const std::string& op) {
  // "seq state wall_time progress_time op": one line a reader can parse, padded to a fixed size
  // so a concurrent reader never sees a shorter stale tail.
  auto line = fmt::format("{} {} {:.3f} {:.3f} {}", seq, pending ? "pending" : "done", wall_seconds(), progressed_, op);
  line.resize(kRecordBytes - 1, ' ');
  line += '\n';
  if (::pwrite(fd_, line.data(), line.size(), 0) < 0) { /* diagnostics only: never fail a step on it */ }
}

void Watchdog::begin(const std::string& op, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (depth_++ > 0) return;
  ++seq_;
  pending_ = true;
  recent_.push_back({seq_, op, bytes, now(), -1.0});
  if (recent_.size() > kRecent) recent_.erase(recent_.begin());
  publish(seq_, true, op);
}

void Watchdog::progress() {
  std::lock_guard<std::mutex> lock(mutex_);
  progressed_ = wall_seconds();
  publish(seq_, pending_, recent_.empty() ? "start" : recent_.back().op);  // peers see it at once
}

void Watchdog::set_busy(int delta) {
  std::lock_guard<std::mutex> lock(mutex_);
  busy_ += delta;
  progressed_ = wall_seconds();
}

bool Watchdog::read_heartbeat(const std::string& path, Heartbeat* out) {
  std::ifstream in(path);
  if (!(in >> out->seq >> out->state >> out->when >> out->progressed) || !std::getline(in, out->op)) return false;
  out->op.erase(0, out->op.find_first_not_of(' '));
  out->op.erase(out->op.find_last_not_of(' ') + 1);
  return true;
}

bool Watchdog::others_progressed_within(double seconds) const {
  const double since = wall_seconds() - seconds;
  Heartbeat h;
  for (int r = 0; r < world_; ++r)
    if (r != rank_ && read_heartbeat(heartbeat_path(dir_, r), &h) && h.progressed > since) return true;
  return false;
}

void Watchdog::end() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (depth_ == 0 || --depth_ > 0) return;
  pending_ = false;
  if (!recent_.empty()) recent_.back().end = now();
  publish(seq_, false, recent_.empty() ? "" : recent_.back().op);
}

std::string Watchdog::report() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  const double t = now();
  if (pending_ && !recent_.empty())
    out << fmt::format("rank {}: collective #{} '{}' ({} bytes) pending for {:.1f} s (timeout {:.0f} s)\n", rank_,
                       seq_, recent_.back().op, recent_.back().bytes, t - recent_.back().start, timeout_);
  std::vector<std::string> behind;
  for (int r = 0; r < world_; ++r) {
    if (r == rank_) continue;
    Heartbeat h;
    if (!read_heartbeat(heartbeat_path(dir_, r), &h)) {
      behind.push_back(fmt::format("rank {} (no heartbeat)", r));
      continue;
    }
    // Every live rank refreshes its heartbeat each second, even while blocked in a collective;
    // a stale one means a frozen or dead process, a smaller sequence number a rank behind.
    const double silent = wall_seconds() - h.when;
    if (silent > kStaleSeconds || h.seq < seq_ || (h.seq == seq_ && h.state == "pending" && !pending_))
      behind.push_back(fmt::format("rank {} (at #{} '{}', {}, {}{})", r, h.seq, h.op, h.state,
                                   silent > kStaleSeconds ? fmt::format("silent for {:.1f} s: frozen or dead", silent)
                                                          : fmt::format("last seen {:.1f} s ago", silent),
                                   h.progressed > 0 ? fmt::format(", last work item done {:.1f} s ago",
                                                                  wall_seconds() - h.progressed)
                                                    : ""));
  }
  out << (behind.empty() ? std::string("no rank is behind this one by its heartbeat") : "stalled or behind: ");
  for (size_t i = 0; i < behind.size(); ++i) out << (i ? "; " : "") << behind[i];
  out << "\nrecent collectives on rank " << rank_ << ":";
  for (const auto& e : recent_)
    out << fmt::format("\n  #{} {} {} bytes, started {:.2f} s ago, {}", e.seq, e.op, e.bytes, t - e.start,
                       e.end < 0 ? "pending" : fmt::format("took {:.3f} s", e.end - e.start));
  return out.str();
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  double refreshed = now(), checked = -kRefreshSeconds;
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (now() - refreshed >= kRefreshSeconds) {
      if (busy_ > 0) progressed_ = wall_seconds();
      publish(seq_, pending_, recent_.empty() ? "start" : recent_.back().op);
      refreshed = now();
    }
    if (stop_ || fired_ || !pending_ || recent_.empty()) continue;
    if (now() - recent_.back().start < timeout_) continue;
    // Waiting on a rank that is still working is not a stall (checked once a refresh).
    if (now() - checked < kRefreshSeconds) continue;
    checked = now();
    lock.unlock();
    const bool working = others_progressed_within(timeout_);
    lock.lock();
    if (working) continue;
    fired_ = true;
    lock.unlock();
    on_stall_(report());
    lock.lock();
  }
}

}  // namespace diffwave
