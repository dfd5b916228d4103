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
  at::Tensor xs, z, g, x_out, skip_out;  // xs = x + step projection, the dilated conv's input
};

// The dilated convolution of xs without its bias, [B, 2C, T].
at::Tensor dilated_conv(const at::Tensor& xs, const ResidualLayerWeights& w) {
  const int64_t d = w.dilation;
  return at::convolution(xs, w.dilated_weight, {}, {1}, {d}, {d}, false, {0}, 1);
}

Forward forward_pass(const at::Tensor& x, const at::Tensor& step, const at::Tensor& mel, const at::Tensor& skip_in,
                     const ResidualLayerWeights& w, const at::Tensor& cached = {}) {
  const int64_t B = x.size(0), T = x.size(2), M = w.dilated_weight.size(0);
  Forward f;
  f.xs = kernels::step_add(x, step.contiguous());
  // z = dilated_conv(xs) + (W_cond mel + b_cond + b_dilated), the same two steps whether the
  // bracket comes from the sampler's cache or not, so both give the same bits.
  f.z = dilated_conv(f.xs, w);
  f.z.add_(cached.defined() ? cached : conditioner_term(mel, w, B, T));
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
    ctx->save_for_backward({f.xs, f.z, f.g, given(mel), wd, given(wc), wo});
    ctx->saved_data["dilation"] = dilation;
    ctx->saved_data["step_rows"] = step.size(0);
    return {f.x_out, f.skip_out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &xs = saved[0], &z = saved[1], &g = saved[2], &mel = saved[3], &wd = saved[4], &wc = saved[5],
               &wo = saved[6];
    const int64_t d = ctx->saved_data["dilation"].toInt(), step_rows = ctx->saved_data["step_rows"].toInt();
    const int64_t B = z.size(0);
    const auto grad_x_out = grads[0].defined() ? grads[0].contiguous() : grads[0];
    const auto grad_skip_out = grads[1].defined() ? grads[1].contiguous() : grads[1];

    // y = b_out + W_out g, with dy = [d x_out / sqrt 2; d skip_out]
    const auto gy = kernels::residual_backward(grad_x_out, grad_skip_out, z);
    const auto grad_bo = gy.sum(at::IntArrayRef{0, 2});
    const auto grad_wo = at::bmm(gy, g.transpose(1, 2)).sum(0).unsqueeze(2);
    const auto grad_g = at::bmm(batched(wo.squeeze(2).t(), B), gy);
    const auto gz = kernels::gate_backward(grad_g.contiguous(), z);
    const auto grad_bias = gz.sum(at::IntArrayRef{0, 2});  // b_dilated's, and b_cond's

    at::Tensor grad_wc, grad_bc, grad_mel;
    if (mel.defined()) {
      grad_wc = at::bmm(gz, mel.transpose(1, 2)).sum(0).unsqueeze(2);
      grad_bc = grad_bias;
      if (ctx->needs_input_grad(2)) grad_mel = at::bmm(batched(wc.squeeze(2).t(), B), gz);
    }
    const auto conv = at::convolution_backward(gz, xs, wd, std::nullopt, {1}, {d}, {d}, false, {0}, 1,
                                               {true, true, false});
    auto [grad_x, grad_step] = kernels::input_backward(gy, std::get<0>(conv));
    if (step_rows == 1 && B > 1) grad_step = grad_step.sum(0, /*keepdim=*/true);
    const auto grad_skip_in = ctx->needs_input_grad(3) ? grad_skip_out : at::Tensor();
    return variable_list{grad_x,  grad_step, grad_mel, grad_skip_in, std::get<1>(conv), grad_bias,
                         grad_wc, grad_bc,   grad_wo,  grad_bo,      at::Tensor()};
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
