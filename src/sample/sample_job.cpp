#include "sample/sample_job.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "audio/audio_io.h"
#include "audio/mel.h"
#include "common/error.h"
#include "common/output_paths.h"
#include "common/png_image.h"
#include "distributed/device.h"
#include "distributed/process_group.h"
#include "sample/batches.h"
#include "checkpoint/checkpoint_model.h"
#include "sample/chunked_sampler.h"
#include "sample/concurrent_batches.h"
#include "audio/vocoder_metrics.h"
#include "sample/sample_inputs.h"

namespace fs = std::filesystem;

namespace diffwave {

SamplerPlan parse_schedule(const std::string& spec, const Config& config) {
  const NoiseSchedule train(config.diffusion.noise_schedule.betas);
  if (spec == "fast") return SamplerPlan::fast(train, config.diffusion.inference_noise_schedule.betas);
  if (spec == "full") return SamplerPlan::full(train);
  std::vector<double> betas;
  std::istringstream in(spec);
  for (std::string item; std::getline(in, item, ',');) {
    size_t used = 0;
    double b = 0;
    try {
      b = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || !(b > 0 && b < 1))
      throw ConfigError(fmt::format("--schedule '{}': '{}' is not a beta in (0, 1); expected fast, full or a "
                                    "comma-separated list of betas",
                                    spec, item));
    betas.push_back(b);
  }
  if (betas.empty()) throw ConfigError("--schedule is empty; expected fast, full or a comma-separated list of betas");
  return SamplerPlan::fast(train, betas);
}

namespace {

using Clock = std::chrono::steady_clock;

std::string metrics_row(const std::string& id, const VocoderMetrics& m) {
  std::string row = id;
  for (double v : m.values()) row += fmt::format("\t{:.6f}", v);
  return row;
}

// The output's mel spectrogram, above the original's when there is one: the picture a user
// checks first (does the output follow the speech?).
void write_spectrograms(const std::string& path, const at::Tensor& audio, const at::Tensor& reference,
                        const MelSpectrogram& mel_of) {
  std::vector<at::Tensor> mels{mel_of(audio).contiguous()};
  if (reference.defined()) mels.push_back(mel_of(reference).contiguous());
  std::vector<const float*> data;
  for (const auto& m : mels) data.push_back(m.data_ptr<float>());
  const auto png = spectrograms_png(data, static_cast<int>(mels[0].size(0)), static_cast<int>(mels[0].size(1)), 2);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(png.data(), static_cast<std::streamsize>(png.size()));
  if (!out.flush()) throw Error(fmt::format("{}: cannot write the spectrogram picture", path));
}

// Rank 0: the per-file rows in id order, then their mean; returns the summary line.
std::string write_metrics(const std::string& path, std::vector<std::string> rows) {
  std::sort(rows.begin(), rows.end());
  std::vector<std::vector<double>> values;
  for (const auto& row : rows) {
    std::istringstream in(row);
    std::string field;
    std::getline(in, field, '\t');  // the id
    values.emplace_back();
    while (std::getline(in, field, '\t')) values.back().push_back(std::strtod(field.c_str(), nullptr));  // "nan" too
  }
  const auto mean = VocoderMetrics::from_values(rows.empty() ? std::vector<double>(VocoderMetrics::names().size(), 0.0)
                                                             : mean_over_files(values));
  std::ofstream out(path);
  out << "id";
  for (const auto& name : VocoderMetrics::names()) out << "\t" << name;
  out << "\n";
  for (const auto& row : rows) out << row << "\n";
  out << metrics_row("mean", mean) << "\n";
  if (!out.flush()) throw Error(fmt::format("{}: cannot write the metrics", path));
  return fmt::format("copy synthesis, {} files: mean log-mel L1 {:.3f} dB, multi-resolution STFT {:.4f} (spectral "
                     "convergence {:.4f} + log-magnitude L1 {:.4f}), envelope correlation {:.3f}; per file in {}",
                     rows.size(), mean.log_mel_l1_db, mean.mr_stft.total(), mean.mr_stft.spectral_convergence,
                     mean.mr_stft.log_magnitude_l1, mean.envelope_correlation, path);
}

}  // namespace

int run_sample_job(CheckpointModel& loaded, const SampleInputs& inputs, const SampleJobOptions& o, ProcessGroup& group) {
  const auto& config = loaded.config;
  auto& model = loaded.model;
  const auto& items = inputs.items();
  const bool conditional = !config.model.unconditional;
  const int sample_rate = config.audio.sample_rate;
  const int64_t hop = config.audio.hop_samples;
  if (o.precision != "fp32" && o.precision != "bf16")
    throw ConfigError(fmt::format("--precision '{}': expected fp32 or bf16", o.precision));
  if (o.chunk_seconds < 0) throw ConfigError(fmt::format("--chunk-seconds {} must not be negative", o.chunk_seconds));
  if (o.streams < 1) throw ConfigError(fmt::format("--streams {} must be at least 1", o.streams));

  const auto [local_rank, local_size] = group.local_rank_and_size();
  const auto device = select_device(o.device, local_rank, local_size, group.rank());
  // Float reductions inside oneDNN's convolutions are split by thread, so the thread count must not
  // follow the rank count: one thread per CPU rank by default (launch a rank per core for speed).
  if (device.is_cpu()) at::set_num_threads(o.threads > 0 ? o.threads : 1);
  const bool bf16 = o.precision == "bf16" && device.is_cuda();
  if (o.precision == "bf16" && !bf16 && group.is_root())
    std::cerr << "diffwave-sample: bf16 needs a GPU; sampling in fp32 on the CPU\n";
  model->to(device);
  const auto options = at::TensorOptions().dtype(at::kFloat).device(device);

  const auto plan = parse_schedule(o.schedule, config);
  const int64_t overlap = o.overlap >= 0 ? o.overlap : default_overlap(model->options(), plan.steps());
  const int64_t unit = conditional ? hop : 1;  // windows are planned in frames, or in samples
  const int64_t chunk = o.chunk_seconds > 0
                            ? std::max<int64_t>(1, std::llround(o.chunk_seconds * sample_rate / double(unit)))
                            : 0;
  const auto batches = make_batches(items, o.batch);
  const auto mine = rank_batches(batches, group.rank(), group.size());
  fs::create_directories(o.output);
  // Every rank checks every id before any file is written, so a bad one stops the job whole.
  std::vector<std::string> item_ids;
  for (const auto& item : items) item_ids.push_back(item.id);
  auto protect = inputs.sources();
  protect.push_back(loaded.path);
  const auto outputs = output_paths(o.output, item_ids, ".wav", protect);
  const auto pictures = o.spectrograms ? output_paths(o.output, item_ids, ".png", protect) : std::vector<std::string>{};
  const MelSpectrogram mel_of(config.audio);
  if (group.is_root()) {
    for (const auto& note : inputs.notes()) std::cerr << "diffwave-sample: " << note << "\n";
    const char* units = conditional ? "frames" : "samples";
    std::cerr << fmt::format("diffwave-sample: {} (step {}, {} weights), {} inputs in {} batches over {} rank(s), {} steps, {}, "
                             "{} on {}{}\n",
                             loaded.path, loaded.step, loaded.ema ? "EMA" : "trained", items.size(), batches.size(), group.size(), plan.steps(),
                             chunk > 0 ? fmt::format("windows of {} {} + {} overlap each side", chunk, units, overlap)
                                       : std::string("unchunked"),
                             bf16 ? "bf16" : "fp32", device.str(),
                             device.is_cpu() ? fmt::format(" ({} threads per rank)", at::get_num_threads()) : "");
  }

  // The first forward on a GPU loads kernels and creates the cuBLAS/cuDNN handles (most of a
  // second): a short dummy input takes that cost before the clock starts, as start-up.
  if (device.is_cuda() && !mine.empty()) {
    const int64_t units = conditional ? 8 : 8 * hop;
    const auto dummy = conditional ? at::zeros({1, config.audio.n_mels, units}, options) : at::Tensor();
    sample_windows(model, plan, dummy, 1, units * unit, row_generators(o.seed, {"warm-up"}),
                   plan_windows(units * unit, 0, 0), options, bf16);
  }
  const auto start = Clock::now();
  double audio_seconds = 0;
  int64_t files = 0;
  std::ostringstream metrics;
  std::mutex mutex;  // the inputs (HDF5 is not thread-safe), the metrics and the counters
  for_each_concurrently(mine.size(), o.streams, device, [&](size_t b) {
    const auto& batch = mine[b];
    std::vector<std::string> ids;
    std::vector<at::Tensor> mels, references;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (size_t i : batch) {
        ids.push_back(items[i].id);
        if (conditional) mels.push_back(inputs.mel(i));
        references.push_back(inputs.reference(i));
      }
    }
    const int64_t units = items[batch.front()].length;
    auto windows = plan_windows(units, chunk, overlap);
    for (auto& w : windows) w = {w.begin * unit, w.end * unit, w.keep_begin * unit, w.keep_end * unit};
    const auto mel = conditional ? at::stack(mels).to(device) : at::Tensor();
    at::Tensor audio;
    {
      Watchdog::Busy computing(group.watchdog());  // arithmetic only: cannot hang on a peer or a file
      audio = sample_windows(model, plan, mel, static_cast<int64_t>(batch.size()), units * unit,
                                row_generators(o.seed, ids), windows, options, bf16, int64_t{2} << 30,
                                o.cuda_graphs && device.is_cuda())
                  .cpu();
    }
    for (size_t r = 0; r < batch.size(); ++r) {
      auto row = audio[static_cast<int64_t>(r)];
      std::string metric;
      if (references[r].defined()) {  // copy synthesis: as long as the original
        row = row.slice(0, 0, std::min(row.size(0), references[r].size(0)));
        metric = metrics_row(ids[r], vocoder_metrics(references[r], row, mel_of)) + "\n";
      }
      row = row.contiguous();
      const fs::path path = outputs[batch[r]];
      fs::create_directories(path.parent_path());
      write_wav(path.string(), row.data_ptr<float>(), static_cast<size_t>(row.numel()), sample_rate);
      if (o.spectrograms) write_spectrograms(pictures[batch[r]], row, references[r], mel_of);
      std::lock_guard<std::mutex> lock(mutex);
      metrics << metric;
      audio_seconds += double(row.numel()) / sample_rate;
      ++files;
      group.progress();
    }
  });
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();

  struct RankStats {
    int64_t files;
    double audio_seconds, wall;
  };
  const auto stats = group.gather(RankStats{files, audio_seconds, wall}, 0, "stats gather");
  const auto metric_parts = group.gather_text(metrics.str(), 0, "metrics gather");
  if (group.is_root()) {
    int64_t total_files = 0;
    double total_audio = 0, slowest = 0;
    for (size_t rank = 0; rank < stats.size(); ++rank) {
      const auto& s = stats[rank];
      total_files += s.files;
      total_audio += s.audio_seconds;
      slowest = std::max(slowest, s.wall);
      std::cout << fmt::format("rank {}: {} files, {:.2f} s of audio in {:.2f} s: real-time factor {:.3f}\n", rank,
                               s.files, s.audio_seconds, s.wall, s.wall > 0 ? s.audio_seconds / s.wall : 0.0);
    }
    std::cout << fmt::format("total: {} files written to {}, {:.2f} s of audio in {:.2f} s (slowest rank): real-time "
                             "factor {:.3f}\n",
                             total_files, o.output, total_audio, slowest, slowest > 0 ? total_audio / slowest : 0.0);
    std::vector<std::string> rows;
    for (const auto& part : metric_parts) {
      std::istringstream in(part);
      for (std::string line; std::getline(in, line);) rows.push_back(line);
    }
    if (!rows.empty()) std::cout << write_metrics((fs::path(o.output) / "metrics.tsv").string(), rows) << "\n";
  }
  group.barrier("final barrier");
  return 0;
}

}  // namespace diffwave
