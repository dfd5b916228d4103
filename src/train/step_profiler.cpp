#include "train/step_profiler.h"

#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <vector>

namespace diffwave {

namespace {

namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Total {
  double seconds = 0;
  int64_t calls = 0;
};

// `what`: "device" or "host"; `unit`: what its events are.
void print_top(const std::map<std::string, Total>& totals, const char* what, const char* unit, double wall,
               int64_t steps) {
  std::vector<std::pair<std::string, Total>> rows(totals.begin(), totals.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  Total sum;
  for (const auto& r : rows) {
    sum.seconds += r.second.seconds;
    sum.calls += r.second.calls;
  }
  std::cerr << fmt::format("profile: {} time {:.2f} ms per step ({:.0f}% of the wall time), {} {} per step\n", what,
                           1e3 * sum.seconds / steps, 100 * sum.seconds / wall, sum.calls / steps, unit);
  for (size_t i = 0; i < std::min<size_t>(rows.size(), 15); ++i) {
    const auto& [name, t] = rows[i];
    std::cerr << fmt::format("profile:   {:6.2f} ms/step {:5.1f}% {:6} calls/step  {}\n", 1e3 * t.seconds / steps,
                             100 * t.seconds / std::max(sum.seconds, 1e-12), t.calls / steps, name.substr(0, 110));
  }
}

}  // namespace

StepProfiler::StepProfiler(std::string dir, int64_t first, int64_t steps, bool cuda)
    : dir_(std::move(dir)), first_(first), steps_(steps), cuda_(cuda) {}

void StepProfiler::before_step(int64_t step) {
  if (steps_ <= 0 || step != first_) return;
  if (cuda_) torch::cuda::synchronize();
  const ProfilerConfig config(ProfilerState::KINETO);
  std::set<ActivityType> activities{ActivityType::CPU};
  if (cuda_) activities.insert(ActivityType::CUDA);
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  active_ = true;
  started_ = now_seconds();
}

void StepProfiler::after_step(int64_t step) {
  if (!active_ || step != first_ + steps_ - 1) return;
  if (cuda_) torch::cuda::synchronize();
  const double wall = now_seconds() - started_;
  auto result = prof::disableProfiler();
  active_ = false;
  std::filesystem::create_directories(dir_);
  const auto path = (std::filesystem::path(dir_) / "trace.json").string();
  result->save(path);
  // Device events are kernels and copies; host events are operators (nested ones counted once
  // each, so their sum exceeds the wall time: the table ranks, it does not add up).
  std::map<std::string, Total> device, host;
  for (const auto& e : result->events()) {
    auto& table = e.deviceType() == c10::DeviceType::CPU ? host : device;
    auto& t = table[e.name()];
    t.seconds += 1e-9 * static_cast<double>(e.durationNs());
    ++t.calls;
  }
  std::cerr << fmt::format("profile: steps {}-{}, {:.2f} ms per step wall; trace in {}\n", first_ + 1, first_ + steps_,
                           1e3 * wall / steps_, path);
  if (!device.empty()) print_top(device, "device", "kernels/copies", wall, steps_);
  print_top(host, "host", "operators", wall, steps_);
}

}  // namespace diffwave
