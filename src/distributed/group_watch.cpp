#include "distributed/group_watch.h"

#include <iostream>

#include "distributed/process_group.h"

namespace diffwave {

GroupWatch::GroupWatch(ProcessGroup& group, const std::string& heartbeat_dir, double timeout_seconds, std::string tool,
                       std::function<void()> before_abort)
    : group_(group), tool_(std::move(tool)), before_abort_(std::move(before_abort)) {
  watchdog_ = std::make_unique<Watchdog>(heartbeat_dir, group.rank(), group.size(), timeout_seconds,
                                         [this](const std::string& report) {
                                           std::cerr << tool_ << ": collective timed out; ending the job\n"
                                                     << report << std::endl;
                                           if (before_abort_) before_abort_();
                                           group_.abort(tool_ + ": collective watchdog: see the report above",
                                                        kExitStalled);
                                         });
  group_.watch(watchdog_.get());
}

GroupWatch::~GroupWatch() { group_.watch(nullptr); }

}  // namespace diffwave
