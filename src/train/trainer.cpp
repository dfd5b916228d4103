#include "train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <optional>
#include <sstream>

#include "audio/mel.h"
#include "common/error.h"
#include "model/bf16_autocast.h"
#include "diffusion/diffusion.h"
#include "dist/communicator.h"
#include "dist/device.h"
#include "dist/gradient_reducer.h"
#include "dist/process_group.h"
#include "dist/group_watch.h"
#include "model/diffwave.h"
#include "quality/vocoder_metrics.h"
#include "train/batch_loader.h"
#include "train/batch_plan.h"
#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/graphed_step.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/signals.h"
#include "train/step_profiler.h"
#include "train/tensorboard.h"

namespace diffwave {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The keys that decide what a checkpoint's weights mean: the architecture, the mel they are
// conditioned on, the noise schedule they denoise and the loss they minimise. They must match to
// resume (model.kernels only picks an implementation).
void check_compatible(const Config& stored, const Config& now, const std::string& path) {
  auto fail = [&](const char* key, const std::string& was, const std::string& is) {
    throw ConfigError(fmt::format("{}: checkpoint was trained with {} = {}, but {} has {}; use a new run dir or "
                                  "the checkpoint's value",
                                  path, key, was, now.origin_of(key), is));
  };
  const auto &a = stored.model, &b = now.model;
  if (a.residual_channels != b.residual_channels)
    fail("model.residual_channels", std::to_string(a.residual_channels), std::to_string(b.residual_channels));
  if (a.residual_layers != b.residual_layers)
    fail("model.residual_layers", std::to_string(a.residual_layers), std::to_string(b.residual_layers));
  if (a.dilation_cycle_length != b.dilation_cycle_length)
    fail("model.dilation_cycle_length", std::to_string(a.dilation_cycle_length), std::to_string(b.dilation_cycle_length));
  if (a.unconditional != b.unconditional)
    fail("model.unconditional", a.unconditional ? "true" : "false", b.unconditional ? "true" : "false");
  if (a.upsample_factors != b.upsample_factors)
    fail("model.upsample_factors", fmt::format("{}", fmt::join(a.upsample_factors, ",")),
         fmt::format("{}", fmt::join(b.upsample_factors, ",")));
  if (stored.audio.n_mels != now.audio.n_mels)
    fail("audio.n_mels", std::to_string(stored.audio.n_mels), std::to_string(now.audio.n_mels));
  const auto &was = stored.diffusion.noise_schedule.betas, &is = now.diffusion.noise_schedule.betas;
  if (was.size() != is.size())
    fail("diffusion.noise_schedule", std::to_string(was.size()) + " steps", std::to_string(is.size()) + " steps");
  for (size_t i = 0; i < was.size(); ++i)
    if (was[i] != is[i])
      fail("diffusion.noise_schedule", fmt::format("beta {} of step {}", was[i], i), fmt::format("beta {}", is[i]));
  if (stored.diffusion.loss != now.diffusion.loss)
    fail("diffusion.loss", stored.diffusion.loss, now.diffusion.loss);
}

class Trainer {
 public:
  Trainer(const Config& config, const std::string& data_dir, const std::string& run_dir, ProcessGroup& group)
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
    unconditional_ = config_.model.unconditional;
    crop_ = unconditional_ ? t.audio_len : t.crop_mel_frames;
    std::vector<int64_t> lengths;
    for (size_t i = 0; i < train_data_->size(); ++i)
      lengths.push_back(unconditional_ ? train_data_->samples(i) : train_data_->frames(i));
    const NoiseSchedule schedule(config_.diffusion.noise_schedule.betas);
    plan_ = std::make_unique<BatchPlan>(lengths, t.batch_size, crop_, schedule.steps(), static_cast<uint64_t>(t.seed));
    noise_level_ = noise_levels(schedule).to(device_);
    loss_kind_ = parse_loss(config_.diffusion.loss);

    at::manual_seed(static_cast<uint64_t>(t.seed));
    model_ = DiffWave(DiffWaveOptions::from_config(config_.model, config_.audio.n_mels, schedule.steps()));
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

    {
      Watchdog::Scope scope(&watch_->watchdog(), "communicator set-up");  // NCCL's id broadcast and init
      comm_ = watched(make_communicator(group_, device_), watch_->watchdog());
    }
    store_ = std::make_unique<CheckpointStore>(run_dir_, t.keep_checkpoints);
    if (rank_ == 0) events_ = std::make_unique<EventWriter>(run_dir_);
  }

  int run() {
    check_agreement();
    resume();
    broadcast_state();
    // Alone, a rank has nothing to average: gradients stay where backward leaves them.
    std::optional<GradientReducer> reducer;
    if (world_ > 1) {
      reducer.emplace(params_, *comm_, static_cast<size_t>(config_.train.bucket_cap_mb * (1 << 20)));
      reducer_ = &*reducer;
    }
    const auto& t = config_.train;
    const int64_t first = step_;
    if (rank_ == 0)
      std::cerr << fmt::format("diffwave-train: {} rank(s) on {} ({}), {} parameters, {} training and {} validation "
                               "utterances, {} steps per epoch, starting at step {}\n",
                               world_, device_.str(), comm_->name(), model_->parameter_count(), train_data_->size(),
                               valid_data_->size(), plan_->steps_per_epoch(), step_);
    BatchLoader loader(*train_data_, *plan_, rank_, world_, crop_, config_.audio.hop_samples, config_.audio.n_mels,
                       unconditional_, step_, 3, device_.is_cuda());
    double window_time = 0, window_wait = 0;
    int64_t window_steps = 0;
    auto last_save_step = step_;
    const int64_t warm = std::min<int64_t>(10, std::max<int64_t>(0, t.max_steps - step_ - t.profile_steps));
    StepProfiler profiler(run_dir_ + "/profile", step_ + warm, rank_ == 0 ? t.profile_steps : 0, device_.is_cuda());
    while (step_ < t.max_steps) {
      profiler.before_step(step_);
      const auto step_start = Clock::now();
      double waited = 0;
      const auto batch = loader.next(&waited);
      double grad_norm = 0;
      const double local_loss = train_step(batch, &grad_norm);
      ++step_;
      // One small collective per step: the global loss, and whether any rank must stop.
      const bool want_stop = stop_signal() != 0 || (t.max_time > 0 && seconds_since(start_) > t.max_time);
      const auto [loss, stop] = step_sync(local_loss, want_stop);
      last_loss_ = loss;
      profiler.after_step(step_ - 1);
      window_time += seconds_since(step_start);
      window_wait += waited;
      ++window_steps;
      if (step_ % t.log_interval == 0 || step_ == t.max_steps) {
        log_progress(loss, grad_norm, window_time, window_wait, window_steps);
        window_time = window_wait = 0;
        window_steps = 0;
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
      if (t.validation_interval > 0 && step_ % t.validation_interval == 0) validation = validate();
      if (t.quality_interval > 0 && step_ % t.quality_interval == 0 && rank_ == 0) log_audio();
      if (step_ % t.checkpoint_interval == 0 || step_ == t.max_steps) {
        save(validation);
        last_save_step = step_;
      }
    }
    if (last_save_step != step_) save(std::nullopt);
    if (rank_ == 0)
      std::cerr << fmt::format("diffwave-train: done, {} steps in {:.1f} s ({} skipped as non-finite)\n",
                               step_ - first, seconds_since(start_), skipped_total_);
    return 0;
  }

 private:
  double train_step(const TrainingBatch& batch, double* grad_norm) {
    model_->train();
    const auto& t = config_.train;
    const int64_t rows = batch.audio.size(0), micro = rows / t.grad_accumulation;
    const bool bf16 = t.precision == "bf16" && device_.is_cuda();
    at::Tensor result;  // [loss, gradient norm] on the device
    if (graphed_) {
      result = graphed_->run(batch, lr_.at(step_));
    } else {
      at::Tensor loss_sum;
      for (int m = 0; m < t.grad_accumulation; ++m) {
        auto take = [&](const at::Tensor& x) {
          return x.defined() ? x.slice(0, m * micro, (m + 1) * micro).to(device_, /*non_blocking=*/true) : x;
        };
        if (reducer_) reducer_->prepare(m == t.grad_accumulation - 1);
        at::Tensor loss;
        {
          Bf16Autocast autocast(bf16);
          loss = diffusion_loss(model_, take(batch.audio), take(batch.mel), take(batch.t), take(batch.noise),
                                noise_level_, loss_kind_);
        }
        (loss / static_cast<double>(t.grad_accumulation)).backward();
        if (reducer_) {
          reducer_->finish();
          comm_wait_ += reducer_->last_wait_seconds();
        }
        const auto part = loss.detach().to(at::kDouble) / t.grad_accumulation;
        loss_sum = loss_sum.defined() ? loss_sum + part : part;
      }
      result = at::stack({loss_sum, clip_grad_norm(params_, t.max_grad_norm).to(at::kDouble)});
    }
    // Gradients are averaged over ranks and identical everywhere, so every rank takes the same
    // decision on a non-finite norm without another collective. One device-to-host read per
    // step, for the loss and the norm together.
    const auto host = result.cpu();
    const double loss_value = host[0].item<double>();
    *grad_norm = host[1].item<double>();
    if (!std::isfinite(*grad_norm)) {
      ++skipped_total_;
      if (++consecutive_nonfinite_ >= t.max_nonfinite_steps) abort_nonfinite(loss_value, *grad_norm);
      if (rank_ == 0)
        std::cerr << fmt::format("diffwave-train: step {}: non-finite gradient norm ({}), step skipped ({} in a row)\n",
                                 step_ + 1, *grad_norm, consecutive_nonfinite_);
    } else {
      consecutive_nonfinite_ = 0;
      if (graphed_) {
        optimizer_->set_steps(optimizer_->steps() + 1);  // the graph updated the weights, Adam and EMA
      } else {
        optimizer_->set_lr(lr_.at(step_));
        optimizer_->step();
        ema_->update(params_, optimizer_->steps());
      }
    }
    if (graphed_) return loss_value;  // the graph owns the gradients' memory
    model_->zero_grad(/*set_to_none=*/true);
    // A few eager steps first (cuDNN's algorithm search, lazy initialisation), then capture.
    if (t.cuda_graphs && ++eager_steps_ >= kEagerStepsBeforeCapture) {
      // With several ranks the all-reduce runs between the two graphs: every bucket at once,
      // after backward (the hooks that overlap it with backward do not run in a replay).
      std::function<void()> reduce;
      if (reducer_)
        reduce = [this] {
          reducer_->prepare(true);
          reducer_->finish();
          comm_wait_ += reducer_->last_wait_seconds();
        };
      graphed_ = std::make_unique<GraphedStep>(model_, params_, *optimizer_, *ema_, t.max_grad_norm, loss_kind_,
                                               noise_level_, bf16, batch, std::move(reduce));
      if (rank_ == 0) std::cerr << fmt::format("diffwave-train: step {}: training step captured as a CUDA graph\n", step_ + 1);
    }
    return loss_value;
  }

  [[noreturn]] void abort_nonfinite(double loss, double grad_norm) {
    std::ostringstream bad;
    int listed = 0;
    for (size_t i = 0; i < params_.size() && listed < 5; ++i) {
      const auto& g = params_[i].grad();
      if (g.defined() && !at::isfinite(g).all().item<bool>()) {
        bad << (listed++ ? ", " : "") << names_[i];
      }
    }
    group_.abort(fmt::format("{} consecutive steps with a non-finite gradient norm (last: step {}, loss {}, grad norm "
                             "{}; non-finite gradients in: {}). Lower train.learning_rate, set train.max_grad_norm, or "
                             "check the data",
                             consecutive_nonfinite_, step_ + 1, loss, grad_norm, listed ? bad.str() : "none found"),
                 1);
  }

  std::pair<double, bool> step_sync(double local_loss, bool want_stop) {
    const auto all = group_.allgather(fmt::format("{} {:.17g}", want_stop ? 1 : 0, local_loss), "step sync");
    double sum = 0;
    bool stop = false;
    for (const auto& s : all) {
      std::istringstream in(s);
      int flag = 0;
      double l = 0;
      in >> flag >> l;
      stop = stop || flag;
      sum += l;
    }
    return {sum / world_, stop};
  }

  void log_progress(double loss, double grad_norm, double time, double wait, int64_t steps) {
    const auto all = group_.allgather(fmt::format("{:.6f} {:.6f} {:.6f}", time / steps, wait / steps, comm_wait_ / steps),
                                      "progress gather");
    comm_wait_ = 0;
    if (rank_ != 0) return;
    double slowest = 0, max_wait = 0, max_comm = 0;
    int slowest_rank = 0;
    for (int r = 0; r < world_; ++r) {
      std::istringstream in(all[static_cast<size_t>(r)]);
      double st = 0, wt = 0, ct = 0;
      in >> st >> wt >> ct;
      max_comm = std::max(max_comm, ct);
      if (st > slowest) {
        slowest = st;
        slowest_rank = r;
      }
      max_wait = std::max(max_wait, wt);
    }
    const double steps_per_s = slowest > 0 ? 1.0 / slowest : 0;
    const int64_t samples = config_.train.batch_size * (unconditional_ ? crop_ : crop_ * config_.audio.hop_samples);
    const double lr = lr_.at(step_ - 1);
    std::cerr << fmt::format("step {:>8} | epoch {} | loss {:.5f} | grad norm {:.3f} | lr {:.3g} | {:.2f} steps/s | "
                             "{:.0f} samples/s | data wait {:.0f}%, comm wait {:.1f}% (max over ranks) | slowest rank {} ({:.3f} s/step)\n",
                             step_, plan_->epoch_of(step_ - 1), loss, grad_norm, lr, steps_per_s,
                             steps_per_s * samples, slowest > 0 ? 100.0 * max_wait / slowest : 0.0,
                             slowest > 0 ? 100.0 * max_comm / slowest : 0.0, slowest_rank, slowest);
    events_->scalar("train/loss", step_, loss);
    events_->scalar("train/grad_norm", step_, grad_norm);
    events_->scalar("train/learning_rate", step_, lr);
    events_->scalar("train/steps_per_second", step_, steps_per_s);
    events_->scalar("train/audio_samples_per_second", step_, steps_per_s * samples);
    events_->scalar("train/data_wait_seconds", step_, max_wait);
    events_->scalar("train/comm_wait_fraction", step_, slowest > 0 ? max_comm / slowest : 0.0);
    events_->flush();
  }

  // Mean loss over a fixed set of held-out crops (fixed t and noise), split over ranks. For a
  // conditional model also the conditioning gain: the same crops, noise and mid-range steps, once
  // with each crop's own mel and once with the next crop's (a fixed derangement); other / own - 1
  // near 0 says the model does not yet listen to its mel, long before its audio can.
  double validate() {
    const auto& t = config_.train;
    const NoiseSchedule schedule(config_.diffusion.noise_schedule.betas);
    const int64_t steps = schedule.steps();
    std::vector<int64_t> usable;  // dataset indices of the held-out crops, the same on every rank
    for (size_t i = 0; i < valid_data_->size() && static_cast<int64_t>(usable.size()) < t.validation_items; ++i)
      if ((unconditional_ ? valid_data_->samples(i) : valid_data_->frames(i)) >= crop_)
        usable.push_back(static_cast<int64_t>(i));
    const auto used = static_cast<int64_t>(usable.size());
    const bool gain = !unconditional_ && used >= 2;
    // Crops from the middle of each utterance: its start is mostly the silence before the first
    // word, where one utterance's mel is as good as another's and the gain reads 0 whatever the model.
    auto item = [&](int64_t u, int64_t step) {
      const int64_t i = usable[static_cast<size_t>(u)];
      const int64_t length = unconditional_ ? valid_data_->samples(size_t(i)) : valid_data_->frames(size_t(i));
      return BatchItem{i, (length - crop_) / 2, step,
                       mix_seed({static_cast<uint64_t>(t.seed), 0x7661ULL, static_cast<uint64_t>(u)})};
    };
    std::vector<BatchItem> mine, mid, partners;
    for (int64_t u = rank_; u < used; u += world_) {
      mine.push_back(item(u, (u * 7919) % steps));
      mid.push_back(item(u, steps / 4 + (u * 7919) % std::max<int64_t>(1, steps / 2)));
      partners.push_back(item((u + 1) % used, 0));
    }
    double sum = 0, own = 0, other = 0;
    if (!mine.empty()) {
      torch::NoGradGuard no_grad;
      model_->eval();
      const int hop = config_.audio.hop_samples, n_mels = config_.audio.n_mels;
      auto rows = [&](const std::vector<BatchItem>& items, const at::Tensor& mel_override) {
        const auto b = make_batch(*valid_data_, items, crop_, hop, n_mels, unconditional_);
        double total = 0;
        for (int64_t k = 0; k < b.audio.size(0); ++k) {
          auto row = [&](const at::Tensor& x) { return x.defined() ? x.slice(0, k, k + 1).to(device_) : x; };
          total += diffusion_loss(model_, row(b.audio), row(mel_override.defined() ? mel_override : b.mel), row(b.t),
                                  row(b.noise), noise_level_, loss_kind_)
                       .item<double>();
        }
        return total;
      };
      sum = rows(mine, {});
      if (gain) {
        own = rows(mid, {});
        other = rows(mid, make_batch(*valid_data_, partners, crop_, hop, n_mels, false).mel);
      }
    }
    const auto all = group_.allgather(fmt::format("{:.17g} {:.17g} {:.17g}", sum, own, other), "validation gather");
    double total = 0, own_total = 0, other_total = 0;
    for (const auto& s : all) {
      std::istringstream in(s);
      double a = 0, b = 0, c = 0;
      in >> a >> b >> c;
      total += a;
      own_total += b;
      other_total += c;
    }
    if (used == 0) return std::nan("");
    const double loss = total / static_cast<double>(used);
    if (rank_ == 0) {
      std::string gain_text;
      if (gain && own_total > 0) {
        const double g = other_total / own_total - 1;
        gain_text = fmt::format("; conditioning gain {:+.1f}% (another utterance's mel, mid noise levels)", 100 * g);
        events_->scalar("validation/conditioning_gain", step_, g);
      }
      std::cerr << fmt::format("step {:>8} | validation loss {:.5f} over {} held-out crops{}\n", step_, loss, used,
                               gain_text);
      events_->scalar("validation/loss", step_, loss);
      events_->flush();
    }
    return loss;
  }

  // Validation synthesis: fast-schedule samples of the first held-out utterances (up to 2 s each,
  // until train.quality_seconds are reached) from the EMA weights, the first logged as audio and
  // spectrogram and, for a conditional model, each scored against its own audio with the vocoder metrics, their
  // mean logged (TensorBoard quality/*, a progress line).
  void log_audio() {
    if (valid_data_->size() == 0) return;
    torch::NoGradGuard no_grad;
    model_->eval();
    const NoiseSchedule schedule(config_.diffusion.noise_schedule.betas);
    SamplerPlan plan;
    try {
      plan = SamplerPlan::fast(schedule, config_.diffusion.inference_noise_schedule.betas);
    } catch (const Error&) {
      plan = SamplerPlan::full(schedule);
    }
    const int hop = config_.audio.hop_samples, n_mels = config_.audio.n_mels, rate = config_.audio.sample_rate;
    // The EMA weights stand in for the training weights during the synthesis, then step back.
    std::vector<at::Tensor> training;
    for (size_t i = 0; i < params_.size(); ++i) {
      training.push_back(params_[i].detach().clone());
      params_[i].detach().copy_(ema_->weights()[i]);
    }
    const MelSpectrogram mel_of(config_.audio);
    const auto budget = static_cast<int64_t>(config_.train.quality_seconds * rate);
    std::vector<std::vector<double>> scores;
    int64_t total = 0;
    for (size_t u = 0; u < valid_data_->size() && total < budget; ++u) {
      at::Tensor mel, truth;
      int64_t length = std::min<int64_t>(config_.train.audio_len, budget);
      if (!unconditional_) {
        // Whole 2-s pieces, never a sliver to fill the budget: the metrics' STFTs need 2048 samples.
        const int64_t frames = std::min<int64_t>(valid_data_->frames(u), 2 * rate / hop);
        std::vector<float> audio(static_cast<size_t>(frames * hop)), m(static_cast<size_t>(frames * n_mels));
        valid_data_->read_crop(u, 0, frames, audio.data(), m.data());
        mel = at::from_blob(m.data(), {1, n_mels, frames}, at::kFloat).clone().to(device_);
        truth = at::from_blob(audio.data(), {frames * hop}, at::kFloat).clone();
        length = frames * hop;
      }
      total += length;
      std::vector<at::Generator> gen{
          at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config_.train.seed) + u)};
      auto audio = sample(model_, plan, mel, 1, length, per_row_noise(gen),
                          at::TensorOptions().dtype(at::kFloat).device(device_))
                       .cpu()
                       .contiguous();
      if (u == 0) {
        std::vector<float> samples(audio.data_ptr<float>(), audio.data_ptr<float>() + audio.numel());
        events_->audio("validation/sample", step_, samples, rate);
        const auto spec = mel_of(audio[0]).contiguous();
        std::vector<float> s(spec.data_ptr<float>(), spec.data_ptr<float>() + spec.numel());
        events_->spectrogram("validation/spectrogram", step_, s, static_cast<int>(spec.size(0)),
                             static_cast<int>(spec.size(1)));
      }
      if (truth.defined()) scores.push_back(vocoder_metrics(truth, audio[0], mel_of).values());
      if (unconditional_) break;  // one sample of train.audio_len (or the budget)
    }
    for (size_t i = 0; i < params_.size(); ++i) params_[i].detach().copy_(training[i]);
    if (!scores.empty()) {
      const auto m = VocoderMetrics::from_values(mean_over_files(scores));
      const auto names = VocoderMetrics::names();
      const auto values = m.values();
      for (size_t i = 0; i < names.size(); ++i) events_->scalar("quality/" + names[i], step_, values[i]);
      std::cerr << fmt::format("step {:>8} | validation synthesis (EMA weights, {} steps, {} utterances, {:.1f} s): "
                               "MR-STFT {:.3f}, log-mel L1 {:.2f} dB, MCD {:.2f} dB, envelope correlation {:.3f}\n",
                               step_, plan.steps(), scores.size(), double(total) / rate, m.mr_stft.total(),
                               m.log_mel_l1_db, m.mcd_db, m.envelope_correlation);
    }
    events_->flush();
  }

  void check_agreement() {
    // Every rank must build the same model from the same config before step 1.
    const auto mine = fmt::format("{} {}", model_->parameter_count(), std::hash<std::string>{}(config_.to_yaml()));
    const auto all = group_.allgather(mine, "start-up agreement");
    for (int r = 0; r < world_; ++r)
      if (all[static_cast<size_t>(r)] != all[0])
        throw Error(fmt::format("rank {} disagrees with rank 0 on the model or config ('{}' vs '{}'): launch every "
                                "rank with the same binary, config and --set options",
                                r, all[static_cast<size_t>(r)], all[0]));
  }

  void resume() {
    const auto latest = store_->latest();
    if (!latest) return;
    const auto ck = read_checkpoint(*latest);
    check_compatible(Config::from_yaml(ck.meta("config"), *latest), config_, *latest);
    torch::NoGradGuard no_grad;
    // copy_ would broadcast a mis-shaped tensor and convert another dtype: each must fit exactly.
    for (size_t i = 0; i < params_.size(); ++i)
      for (auto [prefix, target] : {std::pair{"model/", &params_[i]}, {"ema/", &ema_->weights()[i]},
                                    {"adam/exp_avg/", &optimizer_->exp_avg()[i]},
                                    {"adam/exp_avg_sq/", &optimizer_->exp_avg_sq()[i]}})
        target->copy_(ck.tensor_like(prefix + names_[i], *target));
    optimizer_->set_steps(std::stoll(ck.meta("adam_steps")));
    step_ = std::stoll(ck.meta("step"));
    skipped_total_ = std::stoll(ck.meta("skipped_steps"));
    auto cpu_generator = at::detail::getDefaultCPUGenerator();  // a handle: setting its state sets the default's
    cpu_generator.set_state(ck.tensor("rng/cpu"));
    if (rank_ == 0)
      std::cerr << fmt::format("diffwave-train: resumed from {} (step {}, written by {} rank(s))\n", *latest, step_,
                               ck.meta("world_size"));
  }

  // Rank 0's weights and optimiser state everywhere, at start and after resume.
  void broadcast_state() {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i)
      for (at::Tensor* t : {&params_[i], &ema_->weights()[i], &optimizer_->exp_avg()[i], &optimizer_->exp_avg_sq()[i]})
        comm_->broadcast(*t, 0);
    comm_->synchronize();
  }

  void save(std::optional<double> validation) {
    if (rank_ == 0) {
      Checkpoint ck;
      for (size_t i = 0; i < params_.size(); ++i) {
        ck.tensors["model/" + names_[i]] = params_[i].detach().cpu();
        ck.tensors["ema/" + names_[i]] = ema_->weights()[i].cpu();
        ck.tensors["adam/exp_avg/" + names_[i]] = optimizer_->exp_avg()[i].cpu();
        ck.tensors["adam/exp_avg_sq/" + names_[i]] = optimizer_->exp_avg_sq()[i].cpu();
      }
      ck.tensors["rng/cpu"] = at::detail::getDefaultCPUGenerator().get_state();
      ck.metadata = {{"step", std::to_string(step_)},
                     {"epoch", std::to_string(plan_->epoch_of(std::max<int64_t>(step_ - 1, 0)))},
                     {"data_cursor", std::to_string(step_)},  // global batches consumed; the plan is a function of it
                     {"adam_steps", std::to_string(optimizer_->steps())},
                     {"skipped_steps", std::to_string(skipped_total_)},
                     {"last_loss", fmt::format("{:.17g}", last_loss_)},
                     {"world_size", std::to_string(world_)},
                     {"code_version", DIFFWAVE_VERSION},
                     {"config", config_.to_yaml()}};
      const auto path = store_->save(step_, ck, validation && std::isfinite(*validation) ? validation : std::nullopt);
      std::cerr << fmt::format("diffwave-train: checkpoint {}\n", path);
    }
    group_.barrier("checkpoint barrier");
  }

  Config config_;
  std::string run_dir_;
  ProcessGroup& group_;
  int rank_, world_;
  Clock::time_point start_;
  c10::Device device_{c10::kCPU};
  std::unique_ptr<Dataset> train_data_, valid_data_;
  bool unconditional_ = false;
  int64_t crop_ = 0;
  std::unique_ptr<BatchPlan> plan_;
  at::Tensor noise_level_;
  LossKind loss_kind_ = LossKind::l1;
  DiffWave model_{nullptr};
  std::vector<std::string> names_;
  std::vector<at::Tensor> params_;
  std::unique_ptr<Adam> optimizer_;
  std::unique_ptr<Ema> ema_;
  LrSchedule lr_;
  std::unique_ptr<GroupWatch> watch_;
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<CheckpointStore> store_;
  std::unique_ptr<EventWriter> events_;
  GradientReducer* reducer_ = nullptr;
  static constexpr int kEagerStepsBeforeCapture = 3;
  std::unique_ptr<GraphedStep> graphed_;  // train.cuda_graphs, after the eager steps
  int eager_steps_ = 0;
  int64_t step_ = 0, skipped_total_ = 0;
  int consecutive_nonfinite_ = 0;
  double last_loss_ = 0;
  double comm_wait_ = 0;  // seconds this rank waited on gradient communication in the log window
};

}  // namespace

int train(const Config& config, const std::string& data_dir, const std::string& run_dir, ProcessGroup& group) {
  install_stop_signal_handlers();
  Trainer trainer(config, data_dir, run_dir, group);
  return trainer.run();
}

}  // namespace diffwave
