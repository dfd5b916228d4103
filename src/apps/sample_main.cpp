// diffwave-sample: vocode a prepared corpus's mels, resynthesise audio files (copy synthesis,
// with metrics), or draw unconditional samples, over the ranks of an mpirun / srun job or alone.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "common/build_info.h"
#include "common/error.h"
#include "common/host_memory.h"
#include "data/corpus.h"
#include "distributed/group_watch.h"
#include "distributed/process_group.h"
#include "checkpoint/checkpoint_model.h"
#include "sample/sample_inputs.h"
#include "sample/sample_job.h"

int main(int argc, char** argv) {
  diffwave::tune_host_allocator();  // before the first large tensor
  CLI::App app{"Sample DiffWave from a checkpoint (the model's config is the one stored in it). One WAV per input, "
               "<utterance id>.wav or sample_NNNNN.wav below --output (an id's folders are kept, an absolute path is "
               "mirrored below it, '..' becomes '__'; no input is ever overwritten); an utterance's audio depends "
               "only on the checkpoint, its input, --seed and --schedule, not on the number of ranks or --batch."};
  std::string checkpoint, mel_dir, split, wav_dir;
  bool unconditional = false;
  std::string weights = "ema";
  int64_t num_samples = 0;
  diffwave::SampleJobOptions o;
  long long seed = 0;
  app.add_option("--checkpoint", checkpoint, "checkpoint file, or run dir (its checkpoints/latest)")->required();
  auto* mel = app.add_option("--mel", mel_dir, "diffwave-prep output: vocode every utterance's stored mel");
  app.add_option("--split", split, "with --mel: only the train or the valid split")
      ->check(CLI::IsMember({"train", "valid"}))
      ->needs(mel);
  auto* wav = app.add_option("--wav", wav_dir, "audio folder (or LJSpeech folder, or list): copy synthesis + metrics");
  auto* unc = app.add_flag("--unconditional", unconditional, "draw unconditional samples (unconditional model)");
  app.add_option("--num-samples", num_samples, "with --unconditional: how many")->needs(unc);
  app.add_option("--output", o.output, "output folder")->required();
  app.add_option("--schedule", o.schedule, "fast (the config's inference schedule), full, or betas 'b1,b2,...'")->capture_default_str();
  app.add_option("--seed", seed, "noise seed; each utterance's noise is seeded by it and the utterance id")->capture_default_str();
  app.add_option("--batch", o.batch, "inputs of equal length per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--weights", weights,
                 "ema: the exponential moving average of the trained weights (train.ema_decay, warmed up by "
                 "train.ema_warmup; the better weights after a few thousand steps), or raw: the trained weights "
                 "of the checkpoint's step")
      ->capture_default_str()
      ->check(CLI::IsMember({"raw", "ema"}));
  app.add_option("--device", o.device, "auto, cpu or cuda")->capture_default_str()->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_flag("--cuda-graphs", o.cuda_graphs,
               "on a GPU, capture each window's forward pass once and replay it at every step (passes its gpu test; "
               "slower than without when every input has a length of its own, as each shape is captured anew)");
  app.add_option("--streams", o.streams,
                 "batches sampled at once, each on its own thread (and CUDA stream on a GPU) so that small batches "
                 "overlap; the audio does not change")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--precision", o.precision, "fp32, or bf16 autocast on a GPU")->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
  app.add_option("--chunk-seconds", o.chunk_seconds,
                 "sample long inputs in windows of this many seconds (plus overlap) to bound memory; 0: off")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--overlap", o.overlap,
                 "frames (samples when unconditional) added to each side of a window; default: enough for chunked "
                 "to equal unchunked up to rounding");
  app.add_flag("--spectrograms", o.spectrograms,
               "also write <id>.png: the output's mel spectrogram (top) above the original's (bottom, for --mel "
               "and --wav), low frequencies at the bottom of each");
  double comm_timeout = 600;
  app.add_option("--comm-timeout", comm_timeout,
                 "seconds a rank may wait in a collective while no other rank finishes a batch; then the whole "
                 "job ends naming the ranks behind (exit 70)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads,
                 "CPU threads per rank (default 1, so that the audio does not depend on how many ranks share a "
                 "node: launch one rank per core for speed); runs meant to give identical bytes need the same value")
      ->check(CLI::NonNegativeNumber);
  mel->excludes(wav)->excludes(unc);
  wav->excludes(unc);
  app.set_version_flag("--version", diffwave::build_summary());
  CLI11_PARSE(app, argc, argv);
  o.seed = static_cast<uint64_t>(seed);

  auto& group = diffwave::ProcessGroup::world();
  try {
    // Every collective from here on is watched: a rank stuck reading its inputs or writing its
    // files ends the job naming it, instead of leaving the others waiting.
    diffwave::GroupWatch watch(group, o.output + "/.heartbeat", comm_timeout, "diffwave-sample");
    if (mel_dir.empty() && wav_dir.empty() && !unconditional)
      throw diffwave::ConfigError("give one of --mel PREP_OUT, --wav DIR or --unconditional --num-samples K");
    auto loaded = diffwave::load_checkpoint_model(checkpoint, weights == "ema");
    const auto& config = loaded.config;
    if (config.model.unconditional != unconditional)
      throw diffwave::ConfigError(fmt::format(
          "{}: the model is {} (model.unconditional in its config), so {}", loaded.path,
          config.model.unconditional ? "unconditional" : "conditioned on mels",
          config.model.unconditional ? "use --unconditional --num-samples K" : "use --mel or --wav, not --unconditional"));
    std::unique_ptr<diffwave::SampleInputs> inputs;
    if (!mel_dir.empty()) {
      inputs = diffwave::shard_inputs(mel_dir, split, config);
    } else if (!wav_dir.empty()) {
      std::vector<diffwave::AudioInput> files;
      for (const auto& f : diffwave::prep::discover_corpus(wav_dir).files) files.push_back({f.path, f.id, f.problem});
      inputs = diffwave::wav_inputs(files, config, group);
    } else {
      if (num_samples <= 0) throw diffwave::ConfigError("--unconditional needs --num-samples K (K > 0)");
      inputs = diffwave::unconditional_inputs(num_samples, config);
    }
    return diffwave::run_sample_job(loaded, *inputs, o, group);
  } catch (const std::exception& e) {
    const auto message = fmt::format("diffwave-sample: error: {}", e.what());
    if (group.size() > 1) group.abort(message, 1);  // never leave the other ranks waiting
    std::cerr << message << "\n";
    return 1;
  }
}
