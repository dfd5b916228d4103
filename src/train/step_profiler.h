// A window of training steps under PyTorch's Kineto profiler (train.profile_steps): a trace for
// chrome://tracing or Perfetto, and a table of where the device and host time went.
#pragma once
#include <cstdint>
#include <string>

namespace diffwave {

class StepProfiler {
 public:
  // Profiles steps [first, first + steps) (counted as the step about to run); steps = 0: off.
  StepProfiler(std::string dir, int64_t first, int64_t steps, bool cuda);
  void before_step(int64_t step);
  // Ends the window after its last step: writes dir/trace.json and prints the summary.
  void after_step(int64_t step);

 private:
  std::string dir_;
  int64_t first_, steps_;
  bool cuda_, active_ = false;
  double started_ = 0;
};

}  // namespace diffwave
