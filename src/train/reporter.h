// What a training run tells its user, on rank 0: progress lines and TensorBoard scalars, the
// validation loss with the conditioning gain, and validation synthesis scored with the vocoder
// metrics (audio and spectrogram in TensorBoard). The trainer decides when; this decides what.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "diffusion/diffusion.h"
#include "model/diffwave.h"

namespace diffwave {

class Dataset;
class EventWriter;
class ProcessGroup;

class Reporter {
 public:
  // valid: the held-out split; crop: frames (conditional) or samples (unconditional).
  Reporter(const Config& config, ProcessGroup& group, const std::string& run_dir, const Dataset& valid,
           c10::Device device, int64_t crop);
  ~Reporter();

  // This rank's timings over the steps since the last progress line.
  struct Window {
    double seconds = 0, data_wait = 0, comm_wait = 0;
    int64_t steps = 0;
  };
  // Collective: every rank's timings; rank 0 prints the line (loss, grad norm, lr, steps/s,
  // samples/s, data and comm wait, slowest rank) and logs the scalars.
  void progress(int64_t step, int64_t epoch, double loss, double grad_norm, double lr, const Window& window);

  // Collective: the mean loss over a fixed set of held-out crops (fixed steps and noise), split
  // over ranks; NaN when no held-out utterance is long enough. For a conditional model also the
  // conditioning gain (TensorBoard validation/conditioning_gain).
  double validate(int64_t step, DiffWave& model, const at::Tensor& noise_level, LossKind loss);

  // Rank 0: fast-schedule samples of the first held-out utterances from `ema` (copied into
  // `params` for the synthesis, then put back), scored against their recordings.
  void synthesize(int64_t step, DiffWave& model, const std::vector<at::Tensor>& params,
                  const std::vector<at::Tensor>& ema);

 private:
  const Config& config_;
  ProcessGroup& group_;
  const Dataset& valid_;
  c10::Device device_;
  int64_t crop_;
  bool unconditional_;
  std::unique_ptr<EventWriter> events_;  // rank 0's TensorBoard file
};

}  // namespace diffwave
