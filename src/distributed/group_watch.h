// One way every tool puts its process group under the collective watchdog: from construction
// to destruction, every collective of the group is bracketed, and one pending past the timeout
// (while no other rank shows progress) prints the report naming the ranks behind and ends the
// whole job with kExitStalled. Create it before the first collective.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "distributed/watchdog.h"

namespace diffwave {

class ProcessGroup;

// Exit status when the collective watchdog ended the job (a rank stalled or died).
inline constexpr int kExitStalled = 70;

class GroupWatch {
 public:
  // heartbeat_dir: a folder every rank can read; tool: the program named in the messages;
  // before_abort: what must end first (pending NCCL work), run on the watchdog's thread.
  GroupWatch(ProcessGroup& group, const std::string& heartbeat_dir, double timeout_seconds, std::string tool,
             std::function<void()> before_abort = {});
  ~GroupWatch();
  GroupWatch(const GroupWatch&) = delete;
  GroupWatch& operator=(const GroupWatch&) = delete;

  Watchdog& watchdog() { return *watchdog_; }

 private:
  ProcessGroup& group_;
  std::string tool_;
  std::function<void()> before_abort_;
  std::unique_ptr<Watchdog> watchdog_;
};

}  // namespace diffwave
