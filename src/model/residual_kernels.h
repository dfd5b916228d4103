// The elementwise passes of the fused residual layer (model/residual_layer_fused.h): each one
// reads and writes its tensors once, where the reference op sequence makes several passes and a
// concatenation. CPU and CUDA implementations; every tensor is float32 and contiguous.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>

namespace diffwave::kernels {

// xs[b, c, t] = x[b, c, t] + step[b or 0, c]. x: [B, C, T]; step: [B, C] or [1, C].
at::Tensor step_add(const at::Tensor& x, const at::Tensor& step);

// g = sigmoid(z[:, :C]) * tanh(z[:, C:]). z: [B, 2C, T]; returns [B, C, T].
at::Tensor gate_forward(const at::Tensor& z);

// Gradient of gate_forward with respect to z, from the gradient of g: [B, 2C, T].
at::Tensor gate_backward(const at::Tensor& grad_g, const at::Tensor& z);

// x_out = (x + y[:, :C]) / sqrt(2); skip_out = skip_in + y[:, C:] (y[:, C:] when skip_in is
// undefined). x: [B, C, T]; y: [B, 2C, T].
void residual_forward(const at::Tensor& x, const at::Tensor& y, const at::Tensor& skip_in, at::Tensor& x_out,
                      at::Tensor& skip_out);

// grad_y = [grad_x_out / sqrt(2); grad_skip_out], an undefined gradient counting as zero.
// Returns [B, 2C, T] shaped like `like`.
at::Tensor residual_backward(const at::Tensor& grad_x_out, const at::Tensor& grad_skip_out, const at::Tensor& like);

// grad_x = grad_y[:, :C] + grad_xs, and grad_step[b, c] = the sum over t of grad_xs[b, c, t].
// Returns {grad_x [B, C, T], grad_step [B, C]}.
std::pair<at::Tensor, at::Tensor> input_backward(const at::Tensor& grad_y, const at::Tensor& grad_xs);

}  // namespace diffwave::kernels
