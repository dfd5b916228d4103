#include "train/reporter.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/utils.h>

#include <atomic>
#include <cmath>
#include <iostream>

#include "audio/mel.h"
#include "audio/vocoder_metrics.h"
#include "common/error.h"
#include "common/seeds.h"
#include "data/dataset.h"
#include "distributed/process_group.h"
#include "train/batch_loader.h"
#include "train/tensorboard.h"

namespace diffwave {

Reporter::Reporter(const Config& config, ProcessGroup& group, const std::string& run_dir, const Dataset& valid,
                   c10::Device device, int64_t crop)
    : config_(config),
      group_(group),
      valid_(valid),
      device_(device),
      crop_(crop),
      unconditional_(config.model.unconditional) {
  // A second run in this process (a library user's resume) may start within the same second: its
  // event file gets a suffix, as TensorBoard reads every file of the folder.
  static std::atomic<int> writers = 0;
  if (group_.is_root()) {
    const int n = ++writers;
    events_ = std::make_unique<EventWriter>(run_dir, n == 1 ? "" : "run" + std::to_string(n));
  }
}

Reporter::~Reporter() = default;

void Reporter::progress(int64_t step, int64_t epoch, double loss, double grad_norm, double lr, const Window& w) {
  struct Timings {
    double step_seconds, data_wait, comm_wait;  // per step
  };
  const double n = static_cast<double>(std::max<int64_t>(w.steps, 1));
  const auto all = group_.allgather(Timings{w.seconds / n, w.data_wait / n, w.comm_wait / n}, "progress gather");
  if (!group_.is_root()) return;
  double slowest = 0, max_wait = 0, max_comm = 0;
  int slowest_rank = 0;
  for (size_t r = 0; r < all.size(); ++r) {
    max_comm = std::max(max_comm, all[r].comm_wait);
    max_wait = std::max(max_wait, all[r].data_wait);
    if (all[r].step_seconds > slowest) {
      slowest = all[r].step_seconds;
      slowest_rank = static_cast<int>(r);
    }
  }
  const double steps_per_s = slowest > 0 ? 1.0 / slowest : 0;
  const int64_t samples = config_.train.batch_size * (unconditional_ ? crop_ : crop_ * config_.audio.hop_samples);
  std::cerr << fmt::format(
      "step {:>8} | epoch {} | loss {:.5f} | grad norm {:.3f} | lr {:.3g} | {:.2f} steps/s | "
      "{:.0f} samples/s | data wait {:.0f}%, comm wait {:.1f}% (max over ranks) | slowest rank {} "
      "({:.3f} s/step)\n",
      step, epoch, loss, grad_norm, lr, steps_per_s, steps_per_s * samples,
      slowest > 0 ? 100.0 * max_wait / slowest : 0.0, slowest > 0 ? 100.0 * max_comm / slowest : 0.0, slowest_rank,
      slowest);
  events_->scalar("train/loss", step, loss);
  events_->scalar("train/grad_norm", step, grad_norm);
  events_->scalar("train/learning_rate", step, lr);
  events_->scalar("train/steps_per_second", step, steps_per_s);
  events_->scalar("train/audio_samples_per_second", step, steps_per_s * samples);
  events_->scalar("train/data_wait_seconds", step, max_wait);
  events_->scalar("train/comm_wait_fraction", step, slowest > 0 ? max_comm / slowest : 0.0);
  events_->flush();
}

// Crops from the middle of each utterance, the same on every rank: for the gain, the same crops,
// noise and mid-range steps once with each crop's own mel and once with the next crop's (a fixed
// derangement); other / own - 1 near 0 says the model does not yet listen to its mel, long
// before its audio can.
double Reporter::validate(int64_t step, DiffWave& model, const at::Tensor& noise_level, LossKind loss_kind) {
  const auto& t = config_.train;
  const NoiseSchedule schedule(config_.diffusion.noise_schedule.betas);
  const int64_t steps = schedule.steps();
  std::vector<int64_t> usable;  // dataset indices of the held-out crops, the same on every rank
  for (size_t i = 0; i < valid_.size() && static_cast<int64_t>(usable.size()) < t.validation_items; ++i)
    if ((unconditional_ ? valid_.samples(i) : valid_.frames(i)) >= crop_) usable.push_back(static_cast<int64_t>(i));
  const auto used = static_cast<int64_t>(usable.size());
  const bool gain = !unconditional_ && used >= 2;
  // Crops from the middle of each utterance: its start is mostly the silence before the first
  // word, where one utterance's mel is as good as another's and the gain reads 0 whatever the model.
  auto item = [&](int64_t u, int64_t diffusion_step) {
    const int64_t i = usable[static_cast<size_t>(u)];
    const int64_t length = unconditional_ ? valid_.samples(size_t(i)) : valid_.frames(size_t(i));
    return BatchItem{i, (length - crop_) / 2, diffusion_step,
                     mix_seed({static_cast<uint64_t>(t.seed), 0x7661ULL, static_cast<uint64_t>(u)})};
  };
  std::vector<BatchItem> mine, mid, partners;
  for (int64_t u = group_.rank(); u < used; u += group_.size()) {
    mine.push_back(item(u, (u * 7919) % steps));
    mid.push_back(item(u, steps / 4 + (u * 7919) % std::max<int64_t>(1, steps / 2)));
    partners.push_back(item((u + 1) % used, 0));
  }
  double sum = 0, own = 0, other = 0;
  if (!mine.empty()) {
    torch::NoGradGuard no_grad;
    model->eval();
    const int hop = config_.audio.hop_samples, n_mels = config_.audio.n_mels;
    auto rows = [&](const std::vector<BatchItem>& items, const at::Tensor& mel_override) {
      const auto b = make_batch(valid_, items, crop_, hop, n_mels, unconditional_);
      double total = 0;
      for (int64_t k = 0; k < b.audio.size(0); ++k) {
        auto row = [&](const at::Tensor& x) { return x.defined() ? x.slice(0, k, k + 1).to(device_) : x; };
        total += diffusion_loss(model, row(b.audio), row(mel_override.defined() ? mel_override : b.mel), row(b.t),
                                row(b.noise), noise_level, loss_kind)
                     .item<double>();
      }
      return total;
    };
    sum = rows(mine, {});
    if (gain) {
      own = rows(mid, {});
      other = rows(mid, make_batch(valid_, partners, crop_, hop, n_mels, false).mel);
    }
  }
  struct Sums {
    double loss, own, other;
  };
  double total = 0, own_total = 0, other_total = 0;
  for (const auto& s : group_.allgather(Sums{sum, own, other}, "validation gather")) {  // in rank order
    total += s.loss;
    own_total += s.own;
    other_total += s.other;
  }
  if (used == 0) return std::nan("");
  const double loss = total / static_cast<double>(used);
  if (group_.is_root()) {
    std::string gain_text;
    if (gain && own_total > 0) {
      const double g = other_total / own_total - 1;
      gain_text = fmt::format("; conditioning gain {:+.1f}% (another utterance's mel, mid noise levels)", 100 * g);
      events_->scalar("validation/conditioning_gain", step, g);
    }
    std::cerr << fmt::format("step {:>8} | validation loss {:.5f} over {} held-out crops{}\n", step, loss, used,
                             gain_text);
    events_->scalar("validation/loss", step, loss);
    events_->flush();
  }
  return loss;
}

void Reporter::synthesize(int64_t step, DiffWave& model, const std::vector<at::Tensor>& params,
                          const std::vector<at::Tensor>& ema) {
  if (valid_.size() == 0) return;
  torch::NoGradGuard no_grad;
  model->eval();
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
  for (size_t i = 0; i < params.size(); ++i) {
    training.push_back(params[i].detach().clone());
    params[i].detach().copy_(ema[i]);
  }
  const MelSpectrogram mel_of(config_.audio);
  const auto budget = static_cast<int64_t>(config_.train.quality_seconds * rate);
  std::vector<std::vector<double>> scores;
  int64_t total = 0;
  for (size_t u = 0; u < valid_.size() && total < budget; ++u) {
    at::Tensor mel, truth;
    int64_t length = std::min<int64_t>(config_.train.audio_len, budget);
    if (!unconditional_) {
      // Whole 2-s pieces, never a sliver to fill the budget: the metrics' STFTs need 2048 samples.
      const int64_t frames = std::min<int64_t>(valid_.frames(u), 2 * rate / hop);
      std::vector<float> audio(static_cast<size_t>(frames * hop)), m(static_cast<size_t>(frames * n_mels));
      valid_.read_crop(u, 0, frames, audio.data(), m.data());
      mel = at::from_blob(m.data(), {1, n_mels, frames}, at::kFloat).clone().to(device_);
      truth = at::from_blob(audio.data(), {frames * hop}, at::kFloat).clone();
      length = frames * hop;
    }
    total += length;
    std::vector<at::Generator> gen{
        at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config_.train.seed) + u)};
    auto audio =
        sample(model, plan, mel, 1, length, per_row_noise(gen), at::TensorOptions().dtype(at::kFloat).device(device_))
            .cpu()
            .contiguous();
    if (u == 0) {
      std::vector<float> samples(audio.data_ptr<float>(), audio.data_ptr<float>() + audio.numel());
      events_->audio("validation/sample", step, samples, rate);
      const auto spec = mel_of(audio[0]).contiguous();
      std::vector<float> s(spec.data_ptr<float>(), spec.data_ptr<float>() + spec.numel());
      events_->spectrogram("validation/spectrogram", step, s, static_cast<int>(spec.size(0)),
                           static_cast<int>(spec.size(1)));
    }
    if (truth.defined()) scores.push_back(vocoder_metrics(truth, audio[0], mel_of).values());
    if (unconditional_) break;  // one sample of train.audio_len (or the budget)
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].detach().copy_(training[i]);
  if (!scores.empty()) {
    const auto m = VocoderMetrics::from_values(mean_over_files(scores));
    const auto names = VocoderMetrics::names();
    const auto values = m.values();
    for (size_t i = 0; i < names.size(); ++i) events_->scalar("quality/" + names[i], step, values[i]);
    std::cerr << fmt::format(
        "step {:>8} | validation synthesis (EMA weights, {} steps, {} utterances, {:.1f} s): "
        "MR-STFT {:.3f}, log-mel L1 {:.2f} dB, MCD {:.2f} dB, envelope correlation {:.3f}\n",
        step, plan.steps(), scores.size(), double(total) / rate, m.mr_stft.total(), m.log_mel_l1_db, m.mcd_db,
        m.envelope_correlation);
  }
  events_->flush();
}

}  // namespace diffwave
