#include "model/diffusion_embedding.h"

namespace diffwave {

namespace {
// 64 sines then 64 cosines of t * 10^(4j/63), built with lmnt's float32 op order.
torch::Tensor build_table(int64_t max_steps) {
  auto steps = torch::arange(max_steps).unsqueeze(1);
  auto dims = torch::arange(64).unsqueeze(0);
  auto table = steps * torch::pow(10.0, dims * 4.0 / 63.0);
  return torch::cat({torch::sin(table), torch::cos(table)}, 1);
}
}  // namespace

DiffusionEmbeddingImpl::DiffusionEmbeddingImpl(int64_t max_steps) : table_(build_table(max_steps)) {
  projection1 = register_module("projection1", torch::nn::Linear(128, 512));
  projection2 = register_module("projection2", torch::nn::Linear(512, 512));
}

torch::Tensor DiffusionEmbeddingImpl::table_rows(const torch::Tensor& steps) {
  if (table_.device() != steps.device()) table_ = table_.to(steps.device());
  if (!steps.is_floating_point()) return table_.index_select(0, steps.to(torch::kLong).flatten());
  auto low_idx = torch::floor(steps).to(torch::kLong);
  auto high_idx = torch::ceil(steps).to(torch::kLong);
  auto low = table_.index_select(0, low_idx);
  auto high = table_.index_select(0, high_idx);
  return low + (high - low) * (steps - low_idx).unsqueeze(-1);
}

torch::Tensor DiffusionEmbeddingImpl::forward(const torch::Tensor& steps) {
  auto x = table_rows(steps).to(projection1->weight.scalar_type());  // float64 models in tests
  // x * sigmoid(x) rather than torch::silu: the same two kernels lmnt runs, so bits agree.
  x = projection1(x);
  x = x * torch::sigmoid(x);
  x = projection2(x);
  return x * torch::sigmoid(x);
}

}  // namespace diffwave
