#include "sample/graphed_forward.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include "common/error.h"
#include "model/bf16_autocast.h"

#ifdef DIFFWAVE_HAVE_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace diffwave {

#ifdef DIFFWAVE_HAVE_CUDA
struct GraphedForward::Graph {
  at::cuda::CUDAGraph graph;
};

GraphedForward::GraphedForward(DiffWave& model, const at::Tensor& x, const at::Tensor& mel,
                               const std::vector<at::Tensor>& cached, bool bf16)
    : graph_(std::make_unique<Graph>()) {
  if (!x.is_cuda()) throw Error("CUDA graphs need the model and its input on a GPU");
  x_ = x.clone();
  step_ = at::zeros({1}, x.options().dtype(at::kFloat));
  const c10::cuda::CUDAGuard device(x.device());
  auto stream = c10::cuda::getStreamFromPool(false, x.device().index());
  // The autocast weight cache would hand the graph casts freed after capture: off meanwhile.
  const bool cache = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);
  {
    const c10::cuda::CUDAStreamGuard on_stream(stream);
    Bf16Autocast autocast(bf16);
    for (int i = 0; i < 2; ++i) model->forward(x_, step_, mel, cached);  // lazy initialisation, workspaces
    stream.synchronize();
    graph_->graph.capture_begin();
    out_ = model->forward(x_, step_, mel, cached).squeeze(1);
    graph_->graph.capture_end();
  }
  at::autocast::set_autocast_cache_enabled(cache);
}

at::Tensor GraphedForward::operator()(const at::Tensor& x, float step) {
  x_.copy_(x);
  step_.fill_(step);
  graph_->graph.replay();
  return out_;
}
#else
struct GraphedForward::Graph {};

GraphedForward::GraphedForward(DiffWave&, const at::Tensor&, const at::Tensor&, const std::vector<at::Tensor>&, bool) {
  throw Error("CUDA graphs: this build has no CUDA");
}

at::Tensor GraphedForward::operator()(const at::Tensor&, float) { return out_; }
#endif

GraphedForward::~GraphedForward() = default;

}  // namespace diffwave
