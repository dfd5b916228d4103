// Never hang on a dead or frozen rank: every collective is bracketed by begin()/end(), and a
// thread checks that none stays pending longer than the timeout. Each rank also publishes its
// progress in a small heartbeat file, so the rank that notices a stall can name the ranks
// behind and the operation they last reached. On a stall the handler (abort communicators,
// MPI_Abort) runs with that report.
//
// Tools whose ranks do unequal work between collectives (diffwave-prep, diffwave-sample) call
// progress() after each work item: a rank waiting in a collective then keeps waiting past the
// timeout while another rank shows progress within it, and ends the job once none has for a whole
// timeout (a rank stuck on a read, a frozen or dead one). The trainer's ranks stay in step, so it
// does not call progress() and the plain timeout applies.
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

  // Brackets nest: a collective inside a watched set-up step (the NCCL id broadcast inside the
  // communicator's creation) counts as part of the outer one.
  void begin(const std::string& op, size_t bytes = 0);
  void end();
  // This rank finished a unit of work (thread-safe; published with the next heartbeat refresh).
  void progress();
  // While a Busy lives, this rank counts as progressing at every refresh: for work that cannot
  // hang on a peer or a file (sampling arithmetic), or a rank-local phase (corpus discovery,
  // the manifest) whose own stall the watchdog then cannot see.
  class Busy {
   public:
    explicit Busy(Watchdog* w) : w_(w) {
      if (w_) w_->set_busy(+1);
    }
    ~Busy() {
      if (w_) w_->set_busy(-1);
    }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;

   private:
    Watchdog* w_;
  };

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
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

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
  struct Heartbeat {
    uint64_t seq = 0;
    std::string state, op;
    double when = 0, progressed = 0;  // wall-clock seconds of the last refresh and the last progress()
  };
  static bool read_heartbeat(const std::string& path, Heartbeat* out);
  void set_busy(int delta);
  void publish(uint64_t seq, bool pending, const std::string& op);
  void loop();
  bool others_progressed_within(double seconds) const;
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
  int depth_ = 0;  // open brackets; the outermost one is the pending collective
  int busy_ = 0;   // live Busy scopes
  bool pending_ = false, stop_ = false, fired_ = false;
  double progressed_ = 0;  // wall-clock seconds of this rank's last progress(); 0: none yet
  std::thread thread_;
};

}  // namespace diffwave
