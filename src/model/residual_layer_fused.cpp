#include "model/residual_layer_fused.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <stdexcept>

#include "model/residual_kernels.h"

namespace diffwave {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// W [M, K] as a batch of B matrices without copying (stride 0 over the batch).
at::Tensor batched(const at::Tensor& w, int64_t B) { return w.unsqueeze(0).expand({B, w.size(0), w.size(1)}); }

struct Forward {
  at::Tensor xp, z, g, x_out, skip_out;
};

Forward forward_pass(const at::Tensor& x, const at::Tensor& step, const at::Tensor& mel, const at::Tensor& skip_in,
                     const ResidualLayerWeights& w, const at::Tensor& cached = {}) {
  const int64_t B = x.size(0), T = x.size(2), d = w.dilation, M = w.dilated_weight.size(0);
  Forward f;
  f.xp = kernels::padded_step_add(x, step.contiguous(), d);
  const auto tap = [&](int64_t k) { return batched(w.dilated_weight.select(2, k), B); };
  // z = (b_dilated + b_cond + W_cond mel) + sum over taps k of W_k xp[:, :, k d : k d + T]
  f.z = at::baddbmm(cached.defined() ? cached : conditioner_term(mel, w, B, T), tap(0), f.xp.narrow(2, 0, T));
  for (int64_t k = 1; k < 3; ++k) f.z.baddbmm_(tap(k), f.xp.narrow(2, k * d, T));
  f.g = kernels::gate_forward(f.z);
  const auto y = at::baddbmm(w.output_bias.view({1, M, 1}).expand({B, M, T}),
                             batched(w.output_weight.squeeze(2), B), f.g);
  kernels::residual_forward(x, y, skip_in, f.x_out, f.skip_out);
  return f;
}

}  // namespace

at::Tensor conditioner_term(const at::Tensor& mel, const ResidualLayerWeights& w, int64_t B, int64_t T) {
  const int64_t M = w.dilated_weight.size(0);
  if (!mel.defined()) return w.dilated_bias.view({1, M, 1}).expand({B, M, T});
  const auto bias = (w.dilated_bias + w.conditioner_bias).view({1, M, 1}).expand({B, M, T});
  return at::baddbmm(bias, batched(w.conditioner_weight.squeeze(2), B), mel);
}

namespace {

class LayerFunction : public torch::autograd::Function<LayerFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& step,
                               const at::Tensor& mel, const at::Tensor& skip_in, const at::Tensor& wd,
                               const at::Tensor& bd, const at::Tensor& wc, const at::Tensor& bc,
                               const at::Tensor& wo, const at::Tensor& bo, int64_t dilation) {
    // Autograd takes no undefined inputs: an empty tensor stands for "no mel" / "first layer".
    const auto given = [](const at::Tensor& t) { return t.numel() > 0 ? t : at::Tensor(); };
    auto f = forward_pass(x, step, given(mel), given(skip_in), {wd, bd, given(wc), given(bc), wo, bo, dilation});
    ctx->save_for_backward({f.xp, f.z, f.g, given(mel), wd, given(wc), wo});
    ctx->saved_data["dilation"] = dilation;
    ctx->saved_data["step_rows"] = step.size(0);
    return {f.x_out, f.skip_out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &xp = saved[0], &z = saved[1], &g = saved[2], &mel = saved[3], &wd = saved[4], &wc = saved[5],
               &wo = saved[6];
    const int64_t d = ctx->saved_data["dilation"].toInt(), step_rows = ctx->saved_data["step_rows"].toInt();
    const int64_t B = z.size(0), M = z.size(1), T = z.size(2), C = M / 2;
    const auto grad_x_out = grads[0].defined() ? grads[0].contiguous() : grads[0];
    const auto grad_skip_out = grads[1].defined() ? grads[1].contiguous() : grads[1];

    // y = b_out + W_out g, with dy = [d x_out / sqrt 2; d skip_out]
    const auto gy = kernels::residual_backward(grad_x_out, grad_skip_out, z);
    const auto grad_bo = gy.sum(at::IntArrayRef{0, 2});
    const auto grad_wo = at::bmm(gy, g.transpose(1, 2)).sum(0).unsqueeze(2);
    const auto grad_g = at::bmm(batched(wo.squeeze(2).t(), B), gy);
    const auto gz = kernels::gate_backward(grad_g.contiguous(), z);
    const auto grad_bias = gz.sum(at::IntArrayRef{0, 2});

    at::Tensor grad_wc, grad_bc, grad_mel;
    if (mel.defined()) {
      grad_wc = at::bmm(gz, mel.transpose(1, 2)).sum(0).unsqueeze(2);
      grad_bc = grad_bias;
      if (ctx->needs_input_grad(2)) grad_mel = at::bmm(batched(wc.squeeze(2).t(), B), gz);
    }
    std::vector<at::Tensor> grad_taps;
    for (int64_t k = 0; k < 3; ++k) grad_taps.push_back(at::bmm(gz, xp.narrow(2, k * d, T).transpose(1, 2)).sum(0));
    const auto grad_wd = at::stack(grad_taps, 2);

    // d xp[:, :, t + k d] += W_k^T dz[:, :, t]; the first tap overwrites (beta 0), so only the
    // columns it does not reach start at zero.
    auto gxp = at::empty({B, C, T + 2 * d}, z.options());
    gxp.narrow(2, T, 2 * d).zero_();
    for (int64_t k = 0; k < 3; ++k) {
      auto view = gxp.narrow(2, k * d, T);
      view.baddbmm_(batched(wd.select(2, k).t(), B), gz, /*beta=*/k == 0 ? 0.0 : 1.0);
    }
    auto input_grads = kernels::input_backward(gy, gxp, d);
    auto grad_step = input_grads.second;
    if (step_rows == 1 && B > 1) grad_step = grad_step.sum(0, /*keepdim=*/true);
    const auto grad_skip_in = ctx->needs_input_grad(3) ? grad_skip_out : at::Tensor();
    return variable_list{input_grads.first, grad_step, grad_mel, grad_skip_in, grad_wd, grad_bias,
                         grad_wc,           grad_bc,   grad_wo,  grad_bo,       at::Tensor()};
  }
};

}  // namespace

std::pair<at::Tensor, at::Tensor> fused_residual_layer(const at::Tensor& x, const at::Tensor& step_projection,
                                                       const at::Tensor& mel_up, const at::Tensor& skip_in,
                                                       const ResidualLayerWeights& w, const at::Tensor& cached) {
  const auto xc = x.contiguous();
  if (!at::GradMode::is_enabled()) {  // inference: nothing kept for a backward pass
    auto f = forward_pass(xc, step_projection, mel_up, skip_in, w, cached);
    return {f.x_out, f.skip_out};
  }
  if (cached.defined()) throw std::logic_error("fused residual layer: a cached conditioner term is for inference only");
  const auto none = at::empty({0}, x.options());
  const auto or_none = [&](const at::Tensor& t) { return t.defined() ? t : none; };
  auto out = LayerFunction::apply(xc, step_projection, or_none(mel_up), or_none(skip_in), w.dilated_weight,
                                  w.dilated_bias, or_none(w.conditioner_weight), or_none(w.conditioner_bias),
                                  w.output_weight, w.output_bias, w.dilation);
  return {out[0], out[1]};
}

}  // namespace diffwave
