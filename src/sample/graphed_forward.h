// The model's forward pass for one fixed input shape, captured once as a CUDA graph and replayed
// at every diffusion step: the steps differ only in the values of x and of the step, so each one
// becomes a single graph launch instead of some 300 kernel launches. Off by default
// (diffwave-sample --cuda-graphs) until the gpu tests have passed on real hardware.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "model/diffwave.h"

namespace diffwave {

class GraphedForward {
 public:
  // Captures model->forward(x, step, mel, cached) on x's CUDA device (after two warm-up passes
  // on the capture stream). mel, cached and the model's weights must outlive this object and
  // keep their storage. Throws on a CPU tensor or a build without CUDA.
  GraphedForward(DiffWave& model, const at::Tensor& x, const at::Tensor& mel, const std::vector<at::Tensor>& cached,
                 bool bf16);
  ~GraphedForward();
  GraphedForward(const GraphedForward&) = delete;
  GraphedForward& operator=(const GraphedForward&) = delete;

  // Copies x and the step into the captured inputs and replays; the result is the captured
  // output tensor, overwritten by the next call.
  at::Tensor operator()(const at::Tensor& x, float step);

 private:
  struct Graph;
  std::unique_ptr<Graph> graph_;
  at::Tensor x_, step_, out_;
};

}  // namespace diffwave
