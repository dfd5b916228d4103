// The resolved configuration of a run. Precedence, lowest first: built-in defaults (lmnt's
// values, the same as configs/base.yaml) < the YAML file < each `--set key=value`.
// Leaf names follow lmnt-com/diffwave's params.py where it has one. No LibTorch here.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace diffwave {

// A beta schedule, written either as an explicit list or as {linear: {start, end, steps}}.
struct BetaSchedule {
  std::vector<double> betas;
  struct Linear {
    double start = 0, end = 0;
    int steps = 0;
  };
  std::optional<Linear> linear;  // kept so the resolved config prints as it was written

  static BetaSchedule make_linear(double start, double end, int steps);
};

struct AudioConfig {
  int sample_rate = 22050;
  int n_fft = 1024;
  std::optional<int> win_length;  // unset: 4 * hop_samples (lmnt)
  int hop_samples = 256;
  int n_mels = 80;
  double f_min = 20.0;
  std::optional<double> f_max;  // unset: sample_rate / 2 (lmnt)

  int resolved_win_length() const { return win_length ? *win_length : 4 * hop_samples; }
  double resolved_f_max() const { return f_max ? *f_max : sample_rate / 2.0; }
};

struct ModelConfig {
  int residual_channels = 64;
  int residual_layers = 30;
  int dilation_cycle_length = 10;
  bool unconditional = false;
  std::vector<int> upsample_factors{16, 16};  // their product must equal audio.hop_samples
  std::string kernels = "auto";  // residual-layer implementation: auto, fused or reference
};

struct DiffusionConfig {
  BetaSchedule noise_schedule = BetaSchedule::make_linear(1e-4, 0.05, 50);
  BetaSchedule inference_noise_schedule{{1e-4, 1e-3, 1e-2, 5e-2, 2e-1, 5e-1}, std::nullopt};
  std::string loss = "l1";  // l1 (lmnt) or l2 (the paper)
};

struct TrainConfig {
  int batch_size = 16;  // global batch, over all ranks (as in lmnt)
  double learning_rate = 2e-4;
  double max_grad_norm = 1e9;
  int crop_mel_frames = 62;
  int audio_len = 22050 * 5;  // unconditional crop / sample length in samples
  long long seed = 1234;
  // Beyond lmnt: the run, the optimiser and the distributed machinery.
  long long max_steps = 1000000;
  int checkpoint_interval = 1000;  // steps
  int keep_checkpoints = 3;        // the last K, plus the best by validation loss
  int log_interval = 50;           // steps between progress lines and TensorBoard scalars
  int validation_interval = 1000;  // steps between validation losses (0: never)
  int validation_items = 16;       // held-out utterances in the validation loss
  int quality_interval = 5000;     // steps between validation syntheses scored by the vocoder metrics (0: never)
  double quality_seconds = 4.0;    // audio per validation synthesis: held-out utterances of up to 2 s until this much
  double ema_decay = 0.9999;
  bool ema_warmup = true;          // decay min(ema_decay, n / (n + 9)) at update n (Ema)
  int grad_accumulation = 1;       // micro-steps per optimiser step (batch_size splits across them)
  double bucket_cap_mb = 25.0;     // gradient all-reduce bucket size
  int lr_warmup_steps = 0;
  std::string lr_decay = "constant";  // constant, linear or cosine (to lr_min at max_steps)
  double lr_min = 0.0;
  std::string precision = "fp32";  // fp32, or bf16 autocast on GPU (fp32 master weights)
  int max_nonfinite_steps = 5;     // consecutive skipped steps before the run aborts
  double comm_timeout = 600.0;     // seconds a collective may stall before the job is ended
  double max_time = 0.0;           // wall-clock seconds before a checkpoint and requeue exit (0: none)
  std::string device = "auto";     // auto, cuda or cpu
  int profile_steps = 0;           // profile this many steps after 10 warm-up steps (0: off)
  bool cuda_graphs = false;        // replay each step as CUDA graphs (GPU, no gradient accumulation)
};

// diffwave-prep: how a corpus becomes shards.
struct PrepConfig {
  double validation_fraction = 0.05;  // share of utterances, chosen by a hash of their id
  std::optional<int> min_frames;      // unset: train.crop_mel_frames (shorter clips are rejected)
  double shard_hours = 1.0;           // audio per shard before it is closed
  std::string audio_dtype = "int16";  // int16 or float32, as stored in the shard
  std::string compression = "none";   // none or gzip (shuffle + deflate level 1)

  int resolved_min_frames(int crop_mel_frames) const { return min_frames ? *min_frames : crop_mel_frames; }
};

struct Config {
  AudioConfig audio;
  ModelConfig model;
  DiffusionConfig diffusion;
  TrainConfig train;
  PrepConfig prep;

  // Where each key's value came from ("default", a file path, or "--set"), for error messages.
  std::map<std::string, std::string> origin;

  // Loads `path` (empty: defaults only) and applies `overrides` ("key=value", value in YAML).
  // Throws ConfigError naming the key and its origin on an unknown key or a wrong type.
  static Config load(const std::string& path, const std::vector<std::string>& overrides = {});
  // Parses a YAML document, as stored in a checkpoint, with the same checks.
  static Config from_yaml(const std::string& text, const std::string& source_name);

  // Checks values against each other; world_size > 0 also checks the batch splits evenly.
  void validate(int world_size = 1) const;

  std::string to_yaml() const;
  std::string origin_of(const std::string& key) const;
};

}  // namespace diffwave
