// Never hang on a dead or frozen rank: every collective is bracketed by begin()/end(), and a
// thread checks that none stays pending longer than the timeout. Each rank also publishes its
// progress in a small heartbeat file, so the rank that notices a stall can name the ranks
// behind and the operation they last reached. On a stall the handler (abort communicators,
// MPI_Abort) runs with that report.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace diffwave {

class Watchdog {
 public:
  using StallHandler = std::function<void(const std::string& report)>;
  // heartbeat_dir: a folder every rank can read (the run dir on a shared file system).
  Watchdog(std::string heartbeat_dir, int rank, int world, double timeout_seconds, StallHandler on_stall);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void begin(const std::string& op, size_t bytes = 0);
  void end();

  // What a stall report says: this rank's pending operation, the recent operations, and every
  // rank whose heartbeat is behind this rank's sequence number.
  std::string report() const;

  // RAII bracket for one collective.
  class Scope {
   public:
    Scope(Watchdog* w, const std::string& op, size_t bytes = 0) : w_(w) {
      if (w_) w_->begin(op, bytes);
    }
    ~Scope() {
      if (w_) w_->end();
    }

   private:
    Watchdog* w_;
  };

 private:
  struct Entry {
    uint64_t seq;
    std::string op;
    size_t bytes;
    double start, end;  // seconds since the watchdog started; end < 0 while pending
  };
  void publish(uint64_t seq, bool pending, const std::string& op);
  void loop();
  double now() const;

  std::string dir_;
  int rank_, world_;
  double timeout_;
  StallHandler on_stall_;
  int fd_ = -1;
  std::chrono::steady_clock::time_point t0_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Entry> recent_;  // ring of the last operations, newest last
  uint64_t seq_ = 0;
  bool pending_ = false, stop_ = false, fired_ = false;
  std::thread thread_;
};

}  // namespace diffwave
