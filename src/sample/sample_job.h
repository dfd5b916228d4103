// One rank's part of a diffwave-sample job: its batches of the inputs, sampled and written as
// WAV files, then (rank 0) the summary and, for copy synthesis, OUTPUT/metrics.tsv.
#pragma once
#include <cstdint>
#include <string>

#include "common/config.h"
#include "diffusion/diffusion.h"

namespace diffwave {

class ProcessGroup;
class SampleInputs;
struct CheckpointModel;

struct SampleJobOptions {
  std::string output;              // folder for <id>.wav (common/output_paths.h) and metrics.tsv
  std::string schedule = "fast";   // fast, full, or comma-separated inference betas
  uint64_t seed = 0;
  int64_t batch = 8;               // utterances per forward pass (equal lengths only)
  std::string device = "auto";     // auto, cpu or cuda
  std::string precision = "fp32";  // fp32, or bf16 autocast on CUDA
  double chunk_seconds = 10.0;     // window core length; 0: no chunking
  int64_t overlap = -1;            // frames (samples when unconditional) each side; < 0: default_overlap
  int threads = 0;                 // CPU intra-op threads per rank; 0: the node's cores over its ranks
  bool cuda_graphs = false;        // replay each window's forward as a CUDA graph
  int streams = 1;                 // batches in flight at once (threads; a CUDA stream each on a GPU)
  bool spectrograms = false;       // also <id>.png: the output's mel spectrogram above the original's
};

// fast: the config's inference_noise_schedule, aligned to the training steps; full: the training
// schedule; otherwise a comma-separated list of betas. Throws ConfigError naming the bad value.
SamplerPlan parse_schedule(const std::string& spec, const Config& config);

// Runs this rank's batches and writes their files; returns the exit code. Collective: every rank
// of `group` must call it with the same inputs and options.
int run_sample_job(CheckpointModel& model, const SampleInputs& inputs, const SampleJobOptions& options,
                   ProcessGroup& group);

}  // namespace diffwave
