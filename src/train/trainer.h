// The training loop of diffwave-train: one rank of a data-parallel job (or the whole job when run
// alone). It keeps the loop and its intervals; a step runner (train/step_runner.h) does each
// step's arithmetic, the reporter (train/reporter.h) what the user sees, TrainState
// (checkpoint/train_state.h) what a checkpoint holds. Knows ranks only through the process group
// and the communicator.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "model/diffwave.h"
#include "train/lr_schedule.h"

namespace diffwave {

class Adam;
class BatchPlan;
class CheckpointStore;
class Communicator;
class Dataset;
class Ema;
class GroupWatch;
class ProcessGroup;
class Reporter;
class StepRunner;
struct TrainState;

class Trainer {
 public:
  // Sets up devices, data, model, optimiser and communication for `config` on the prepared corpus
  // in data_dir, with checkpoints and TensorBoard files in run_dir. comm: the transport for
  // gradients (tests pass a fake one); by default the one make_communicator picks for the device.
  // Every collective from here on runs under the watchdog (train.comm_timeout).
  Trainer(const Config& config, const std::string& data_dir, const std::string& run_dir, ProcessGroup& group,
          std::unique_ptr<Communicator> comm = nullptr);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Resumes from run_dir's latest checkpoint when there is one, then trains to train.max_steps.
  // Returns 0 when it is reached, kExitRequeue after a stop signal or train.max_time (with a
  // checkpoint written first). Throws Error on bad input; a stalled collective ends the job itself.
  int run();

 private:
  void check_agreement();
  void resume();
  void broadcast_state();
  TrainState state();  // views of the live tensors and the counters
  void count_nonfinite(double loss, double grad_norm);
  [[noreturn]] void abort_nonfinite(double loss, double grad_norm);
  std::pair<double, bool> step_sync(double local_loss, bool want_stop);
  void save(std::optional<double> validation);

  using Clock = std::chrono::steady_clock;
  Config config_;
  std::string run_dir_;
  ProcessGroup& group_;
  int rank_, world_;
  Clock::time_point start_;
  c10::Device device_{c10::kCPU};
  std::unique_ptr<GroupWatch> watch_;
  std::unique_ptr<Dataset> train_data_, valid_data_;
  int64_t crop_ = 0;  // frames (conditional) or samples (unconditional)
  std::unique_ptr<BatchPlan> plan_;
  at::Tensor noise_level_;
  DiffWave model_{nullptr};
  std::vector<std::string> names_;
  std::vector<at::Tensor> params_;
  std::unique_ptr<Adam> optimizer_;
  std::unique_ptr<Ema> ema_;
  LrSchedule lr_;
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<StepRunner> runner_;
  std::unique_ptr<CheckpointStore> store_;
  std::unique_ptr<Reporter> reporter_;
  int64_t step_ = 0, skipped_total_ = 0;
  int consecutive_nonfinite_ = 0;
  double last_loss_ = 0;
};

// install_stop_signal_handlers(), then Trainer(...).run().
int train(const Config& config, const std::string& data_dir, const std::string& run_dir, ProcessGroup& group);

}  // namespace diffwave
