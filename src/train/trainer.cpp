#include "train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/utils.h>

#include <cmath>
#include <iostream>
#include <sstream>

#include "checkpoint/checkpoint_model.h"
#include "checkpoint/checkpoint_store.h"
#include "checkpoint/train_state.h"
#include "common/error.h"
#include "data/dataset.h"
#include "distributed/communicator.h"
#include "distributed/device.h"
#include "distributed/group_watch.h"
#include "distributed/process_group.h"
#include "train/batch_loader.h"
#include "train/batch_plan.h"
#include "train/optimizer.h"
#include "train/reporter.h"
#include "train/signals.h"
#include "train/step_profiler.h"
#include "train/step_runner.h"

namespace diffwave {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Trainer::Trainer(const Config& config, const std::string& data_dir, const std::string& run_dir, ProcessGroup& group,
                 std::unique_ptr<Communicator> comm)
    : config_(config), run_dir_(run_dir), group_(group), rank_(group.rank()), world_(group.size()),
      start_(Clock::now()) {
  const auto& t = config_.train;
  // Watched from the first collective on: a rank that never arrives at start-up (a slow file
  // system, a dead node) ends the job with its name, as a stall during training does.
  watch_ = std::make_unique<GroupWatch>(group_, run_dir_ + "/heartbeat", t.comm_timeout, "diffwave-train", [this] {
    if (comm_) comm_->abort();
  });
  const auto [local_rank, local_size] = group_.local_rank_and_size();
  device_ = select_device(t.device, local_rank, local_size, rank_);
  if (device_.is_cpu()) at::set_num_threads(cpu_threads_per_rank(local_size));
  // Crops have one shape: let cuDNN time its algorithms once and keep the fastest (lmnt does
  // the same; its picks, like cuDNN's atomics, make GPU runs not bitwise repeatable).
  if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  if (t.cuda_graphs && !device_.is_cuda())
    throw ConfigError(fmt::format("train.cuda_graphs ({}) needs a GPU, but rank {} trains on {}",
                                  config_.origin_of("train.cuda_graphs"), rank_, device_.str()));

  train_data_ = std::make_unique<Dataset>(data_dir, config_, false);
  valid_data_ = std::make_unique<Dataset>(data_dir, config_, true);
  const bool unconditional = config_.model.unconditional;
  crop_ = unconditional ? t.audio_len : t.crop_mel_frames;
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < train_data_->size(); ++i)
    lengths.push_back(unconditional ? train_data_->samples(i) : train_data_->frames(i));
  const NoiseSchedule schedule(config_.diffusion.noise_schedule.betas);
  plan_ = std::make_unique<BatchPlan>(lengths, t.batch_size, crop_, schedule.steps(), static_cast<uint64_t>(t.seed));
  noise_level_ = noise_levels(schedule).to(device_);

  at::manual_seed(static_cast<uint64_t>(t.seed));
  model_ = make_model(config_);
  model_->to(device_);
  for (const auto& p : model_->named_parameters()) {
    names_.push_back(p.key());
    params_.push_back(p.value());
  }
  AdamOptions adam;
  adam.lr = t.learning_rate;
  optimizer_ = std::make_unique<Adam>(params_, adam);
  ema_ = std::make_unique<Ema>(params_, t.ema_decay, t.ema_warmup);
  lr_.peak = t.learning_rate;
  lr_.floor = t.lr_min;
  lr_.warmup_steps = t.lr_warmup_steps;
  lr_.total_steps = t.max_steps;
  lr_.decay = LrSchedule::parse(t.lr_decay);

  comm_ = comm ? std::move(comm) : make_communicator(group_, device_);
  store_ = std::make_unique<CheckpointStore>(run_dir_, t.keep_checkpoints);
  reporter_ = std::make_unique<Reporter>(config_, group_, run_dir_, *valid_data_, device_, crop_);
}

Trainer::~Trainer() = default;

int Trainer::run() {
  check_agreement();
  resume();
  broadcast_state();
  const auto& t = config_.train;
  StepParts parts;
  parts.model = model_;
  parts.params = params_;
  parts.adam = optimizer_.get();
  parts.ema = ema_.get();
  parts.noise_level = noise_level_;
  parts.loss = parse_loss(config_.diffusion.loss);
  parts.max_grad_norm = t.max_grad_norm;
  parts.grad_accumulation = t.grad_accumulation;
  parts.bf16 = t.precision == "bf16" && device_.is_cuda();
  const auto bucket_bytes = static_cast<size_t>(t.bucket_cap_mb * (1 << 20));
  runner_ = t.cuda_graphs ? make_graphed_step(parts, *comm_, bucket_bytes) : make_eager_step(parts, *comm_, bucket_bytes);

  const int64_t first = step_;
  if (rank_ == 0)
    std::cerr << fmt::format("diffwave-train: {} rank(s) on {} ({}), {} parameters, {} training and {} validation "
                             "utterances, {} steps per epoch, starting at step {}\n",
                             world_, device_.str(), comm_->name(), model_->parameter_count(), train_data_->size(),
                             valid_data_->size(), plan_->steps_per_epoch(), step_);
  BatchLoader loader(*train_data_, *plan_, rank_, world_, crop_, config_.audio.hop_samples, config_.audio.n_mels,
                     config_.model.unconditional, step_, 3, device_.is_cuda());
  Reporter::Window window;
  auto last_save_step = step_;
  const int64_t warm = std::min<int64_t>(10, std::max<int64_t>(0, t.max_steps - step_ - t.profile_steps));
  StepProfiler profiler(run_dir_ + "/profile", step_ + warm, rank_ == 0 ? t.profile_steps : 0, device_.is_cuda());
  while (step_ < t.max_steps) {
    profiler.before_step(step_);
    const auto step_start = Clock::now();
    double waited = 0;
    const auto batch = loader.next(&waited);
    const auto result = runner_->run(batch, lr_.at(step_));
    if (!result.applied) count_nonfinite(result.loss, result.grad_norm);
    else consecutive_nonfinite_ = 0;
    ++step_;
    // One small collective per step: the global loss, and whether any rank must stop.
    const bool want_stop = stop_signal() != 0 || (t.max_time > 0 && seconds_since(start_) > t.max_time);
    const auto [loss, stop] = step_sync(result.loss, want_stop);
    last_loss_ = loss;
    profiler.after_step(step_ - 1);
    window.seconds += seconds_since(step_start);
    window.data_wait += waited;
    window.comm_wait += runner_->take_comm_wait();
    ++window.steps;
    if (step_ % t.log_interval == 0 || step_ == t.max_steps) {
      reporter_->progress(step_, plan_->epoch_of(step_ - 1), loss, result.grad_norm, lr_.at(step_ - 1), window);
      window = {};
    }
    // On a stop the checkpoint comes first and alone: validation and audio could outlast the
    // scheduler's grace period between its signal and the kill.
    if (stop) {
      save(std::nullopt);
      if (rank_ == 0)
        std::cerr << fmt::format("diffwave-train: stopping at step {} ({}); checkpoint written, exit {} to requeue\n",
                                 step_, stop_signal() ? fmt::format("signal {}", stop_signal()) : "time limit",
                                 kExitRequeue);
      return kExitRequeue;
    }
    std::optional<double> validation;
    if (t.validation_interval > 0 && step_ % t.validation_interval == 0)
      validation = reporter_->validate(step_, model_, noise_level_, parse_loss(config_.diffusion.loss));
    if (t.quality_interval > 0 && step_ % t.quality_interval == 0 && rank_ == 0)
      reporter_->synthesize(step_, model_, params_, ema_->weights());
    if (step_ % t.checkpoint_interval == 0 || step_ == t.max_steps) {
      save(validation);
      last_save_step = step_;
    }
  }
  if (last_save_step != step_) save(std::nullopt);
  if (rank_ == 0)
    std::cerr << fmt::format("diffwave-train: done, {} steps in {:.1f} s ({} skipped as non-finite)\n", step_ - first,
                             seconds_since(start_), skipped_total_);
  return 0;
}

// Gradients are averaged over ranks, so every rank counts the same skipped steps.
void Trainer::count_nonfinite(double loss, double grad_norm) {
  ++skipped_total_;
  if (++consecutive_nonfinite_ >= config_.train.max_nonfinite_steps) abort_nonfinite(loss, grad_norm);
  if (rank_ == 0)
    std::cerr << fmt::format("diffwave-train: step {}: non-finite gradient norm ({}), step skipped ({} in a row)\n",
                             step_ + 1, grad_norm, consecutive_nonfinite_);
}

void Trainer::abort_nonfinite(double loss, double grad_norm) {
  std::ostringstream bad;
  int listed = 0;
  for (size_t i = 0; i < params_.size() && listed < 5; ++i) {
    const auto& g = params_[i].grad();
    if (g.defined() && !at::isfinite(g).all().item<bool>()) bad << (listed++ ? ", " : "") << names_[i];
  }
  group_.abort(fmt::format("{} consecutive steps with a non-finite gradient norm (last: step {}, loss {}, grad norm "
                           "{}; non-finite gradients in: {}). Lower train.learning_rate, set train.max_grad_norm, or "
                           "check the data",
                           consecutive_nonfinite_, step_ + 1, loss, grad_norm, listed ? bad.str() : "none found"),
               1);
}

std::pair<double, bool> Trainer::step_sync(double local_loss, bool want_stop) {
  struct Vote {
    double loss;
    int64_t stop;
  };
  double sum = 0;
  bool stop = false;
  for (const auto& v : group_.allgather(Vote{local_loss, want_stop ? 1 : 0}, "step sync")) {  // in rank order
    stop = stop || v.stop != 0;
    sum += v.loss;
  }
  return {sum / world_, stop};
}

void Trainer::check_agreement() {
  // Every rank must build the same model from the same config before step 1.
  struct Fingerprint {
    int64_t parameters;
    uint64_t config_hash;
  };
  const Fingerprint mine{model_->parameter_count(), std::hash<std::string>{}(config_.to_yaml())};
  const auto all = group_.allgather(mine, "start-up agreement");
  for (int r = 0; r < world_; ++r) {
    const auto& f = all[static_cast<size_t>(r)];
    if (f.parameters != all[0].parameters || f.config_hash != all[0].config_hash)
      throw Error(fmt::format("rank {} disagrees with rank 0 on the model or config ('{} {}' vs '{} {}'): launch every "
                              "rank with the same binary, config and --set options",
                              r, f.parameters, f.config_hash, all[0].parameters, all[0].config_hash));
  }
}

TrainState Trainer::state() {
  TrainState s;
  s.names = names_;
  s.weights = params_;
  s.ema = ema_->weights();
  s.exp_avg = optimizer_->exp_avg();
  s.exp_avg_sq = optimizer_->exp_avg_sq();
  s.step = step_;
  s.epoch = plan_->epoch_of(std::max<int64_t>(step_ - 1, 0));
  s.adam_steps = optimizer_->steps();
  s.skipped_steps = skipped_total_;
  s.last_loss = last_loss_;
  s.world_size = world_;
  s.cpu_rng = at::detail::getDefaultCPUGenerator().get_state();
  s.config = config_;
  return s;
}

void Trainer::resume() {
  const auto latest = store_->latest();
  if (!latest) return;
  auto s = state();
  s.restore(read_checkpoint(*latest));
  optimizer_->set_steps(s.adam_steps);
  step_ = s.step;
  skipped_total_ = s.skipped_steps;
  auto cpu_generator = at::detail::getDefaultCPUGenerator();  // a handle: setting its state sets the default's
  cpu_generator.set_state(s.cpu_rng);
  if (rank_ == 0)
    std::cerr << fmt::format("diffwave-train: resumed from {} (step {}, written by {} rank(s))\n", *latest, step_,
                             s.world_size);
}

// Rank 0's weights and optimiser state everywhere, at start and after resume.
void Trainer::broadcast_state() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i)
    for (at::Tensor* t : {&params_[i], &ema_->weights()[i], &optimizer_->exp_avg()[i], &optimizer_->exp_avg_sq()[i]})
      comm_->broadcast(*t, 0);
  comm_->synchronize();
}

void Trainer::save(std::optional<double> validation) {
  if (rank_ == 0) {
    const auto path = store_->save(step_, state().to_checkpoint(),
                                   validation && std::isfinite(*validation) ? validation : std::nullopt);
    std::cerr << fmt::format("diffwave-train: checkpoint {}\n", path);
  }
  group_.barrier("checkpoint barrier");
}

int train(const Config& config, const std::string& data_dir, const std::string& run_dir, ProcessGroup& group) {
  install_stop_signal_handlers();
  Trainer trainer(config, data_dir, run_dir, group);
  return trainer.run();
}

}  // namespace diffwave
