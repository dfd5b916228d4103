#include "model/residual_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <cmath>

#include "common/error.h"
#include "model/residual_kernels_cuda.h"
#include "model/residual_kernels_math.h"

#ifdef DIFFWAVE_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace diffwave::kernels {
namespace {

void check(const at::Tensor& t, const char* name) {
  if (t.scalar_type() != at::kFloat || !t.is_contiguous())
    throw Error(fmt::format("fused residual layer: {} must be a contiguous float32 tensor (got {}{})", name,
                            c10::toString(t.scalar_type()), t.is_contiguous() ? "" : ", non-contiguous"));
}

// Runs launch(stream) on t's device when t is a CUDA tensor and says whether it did. `launch` is
// a generic lambda, so builds without CUDA never instantiate its calls into the CUDA launchers.
template <class F>
bool ran_on_cuda(const at::Tensor& t, F&& launch) {
  if (!t.is_cuda()) return false;
#ifdef DIFFWAVE_HAVE_CUDA
  const c10::cuda::CUDAGuard guard(t.device());
  launch(static_cast<void*>(c10::cuda::getCurrentCUDAStream(t.device().index()).stream()));
  return true;
#else
  throw Error("fused residual layer: this build has no CUDA kernels");
#endif
}

// Row r = (b, c) of a [B, C, T] tensor sits at (b * 2C + c) * T in the first half of a [B, 2C, T]
// one (the gate, the residual); its second half (filter, skip) is C * T further on.
int64_t first_half(int64_t r, int64_t C, int64_t T) { return (r / C * 2 * C + r % C) * T; }

// Runs fn(row) for rows [0, rows) on the intra-op threads; each row is a run of T floats.
template <class F>
void for_rows(int64_t rows, int64_t row_len, F&& fn) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(row_len, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) fn(r);
  });
}

}  // namespace

at::Tensor step_add(const at::Tensor& x, const at::Tensor& step) {
  check(x, "x");
  check(step, "step projection");
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2);
  const bool per_item = step.size(0) == B && B > 1;
  auto xs = at::empty_like(x);
  if (ran_on_cuda(x, [&](auto stream) {
        cuda::step_add(x.data_ptr<float>(), step.data_ptr<float>(), xs.data_ptr<float>(), B, C, T, per_item, stream);
      }))
    return xs;
  const float* in = x.data_ptr<float>();
  const float* ss = step.data_ptr<float>();
  float* out = xs.data_ptr<float>();
  for_rows(B * C, T, [&](int64_t r) { math::add_scalar(in + r * T, ss[per_item ? r : r % C], out + r * T, T); });
  return xs;
}

at::Tensor gate_forward(const at::Tensor& z) {
  check(z, "z");
  const int64_t B = z.size(0), C = z.size(1) / 2, T = z.size(2);
  auto g = at::empty({B, C, T}, z.options());
  if (ran_on_cuda(z,
                  [&](auto stream) { cuda::gate_forward(z.data_ptr<float>(), g.data_ptr<float>(), B, C, T, stream); }))
    return g;
  const float* zs = z.data_ptr<float>();
  float* gs = g.data_ptr<float>();
  for_rows(B * C, T, [&](int64_t r) {
    const float* gate = zs + first_half(r, C, T);
    math::gate_forward(gate, gate + C * T, gs + r * T, T);
  });
  return g;
}

at::Tensor gate_backward(const at::Tensor& grad_g, const at::Tensor& z) {
  check(grad_g, "gate gradient");
  check(z, "z");
  const int64_t B = z.size(0), C = z.size(1) / 2, T = z.size(2);
  auto gz = at::empty_like(z);
  if (ran_on_cuda(z, [&](auto stream) {
        cuda::gate_backward(grad_g.data_ptr<float>(), z.data_ptr<float>(), gz.data_ptr<float>(), B, C, T, stream);
      }))
    return gz;
  const float* gg = grad_g.data_ptr<float>();
  const float* zs = z.data_ptr<float>();
  float* out = gz.data_ptr<float>();
  for_rows(B * C, T, [&](int64_t r) {
    const int64_t gate = first_half(r, C, T), filter = gate + C * T;
    math::gate_backward(gg + r * T, zs + gate, zs + filter, out + gate, out + filter, T);
  });
  return gz;
}

void residual_forward(const at::Tensor& x, const at::Tensor& y, const at::Tensor& skip_in, at::Tensor& x_out,
                      at::Tensor& skip_out) {
  check(x, "x");
  check(y, "y");
  if (skip_in.defined()) check(skip_in, "skip");
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2);
  x_out = at::empty_like(x);
  skip_out = at::empty_like(x);
  const float* skip = skip_in.defined() ? skip_in.data_ptr<float>() : nullptr;
  if (ran_on_cuda(x, [&](auto stream) {
        cuda::residual_forward(x.data_ptr<float>(), y.data_ptr<float>(), skip, x_out.data_ptr<float>(),
                               skip_out.data_ptr<float>(), B, C, T, stream);
      }))
    return;
  const float* xs = x.data_ptr<float>();
  const float* ys = y.data_ptr<float>();
  float* xo = x_out.data_ptr<float>();
  float* so = skip_out.data_ptr<float>();
  for_rows(B * C, T, [&](int64_t r) {
    const float* res = ys + first_half(r, C, T);
    math::residual_forward(xs + r * T, res, res + C * T, skip ? skip + r * T : nullptr, xo + r * T, so + r * T, T);
  });
}

at::Tensor residual_backward(const at::Tensor& grad_x_out, const at::Tensor& grad_skip_out, const at::Tensor& like) {
  const int64_t B = like.size(0), C = like.size(1) / 2, T = like.size(2);
  if (grad_x_out.defined()) check(grad_x_out, "residual gradient");
  if (grad_skip_out.defined()) check(grad_skip_out, "skip gradient");
  auto gy = at::empty_like(like);
  const float* gx = grad_x_out.defined() ? grad_x_out.data_ptr<float>() : nullptr;
  const float* gs = grad_skip_out.defined() ? grad_skip_out.data_ptr<float>() : nullptr;
  if (ran_on_cuda(like, [&](auto stream) { cuda::residual_backward(gx, gs, gy.data_ptr<float>(), B, C, T, stream); }))
    return gy;
  float* out = gy.data_ptr<float>();
  for_rows(B * C, T, [&](int64_t r) {
    float* res = out + first_half(r, C, T);
    math::residual_backward(gx ? gx + r * T : nullptr, gs ? gs + r * T : nullptr, res, res + C * T, T);
  });
  return gy;
}

std::pair<at::Tensor, at::Tensor> input_backward(const at::Tensor& grad_y, const at::Tensor& grad_xs) {
  check(grad_y, "output gradient");
  check(grad_xs, "input gradient");
  const int64_t B = grad_y.size(0), C = grad_y.size(1) / 2, T = grad_y.size(2);
  auto gx = at::empty({B, C, T}, grad_y.options());
  auto gstep = at::empty({B, C}, grad_y.options());
  if (ran_on_cuda(grad_y, [&](auto stream) {
        cuda::input_backward(grad_y.data_ptr<float>(), grad_xs.data_ptr<float>(), gx.data_ptr<float>(),
                             gstep.data_ptr<float>(), B, C, T, stream);
      }))
    return {gx, gstep};
  const float* gy = grad_y.data_ptr<float>();
  const float* gs = grad_xs.data_ptr<float>();
  float* out = gx.data_ptr<float>();
  float* st = gstep.data_ptr<float>();
  for_rows(B * C, T, [&](int64_t r) {
    st[r] = math::add_and_sum(gy + first_half(r, C, T), gs + r * T, out + r * T, T);
  });
  return {gx, gstep};
}

}  // namespace diffwave::kernels
