// Row loops of the CPU residual-layer kernels: plain loops the compiler vectorises, built for
// AVX-512, AVX2 and baseline x86-64 (chosen at load time), with exp/tanh as polynomials (Cephes'
// coefficients, ~1 ulp) so that they vectorise too. Each call handles one row of n floats.
#pragma once
#include <cstdint>

namespace diffwave::kernels::math {

void add_scalar(const float* x, float s, float* out, int64_t n);
// g = sigmoid(gate) * tanh(filter)
void gate_forward(const float* gate, const float* filter, float* g, int64_t n);
// d gate, d filter from d g, recomputing sigmoid and tanh from the inputs.
void gate_backward(const float* grad_g, const float* gate, const float* filter, float* grad_gate,
                   float* grad_filter, int64_t n);
// x_out = (x + res) / sqrt(2); skip_out = skip_in + skip (skip_in may be null).
void residual_forward(const float* x, const float* res, const float* skip, const float* skip_in, float* x_out,
                      float* skip_out, int64_t n);
// grad_res = grad_x / sqrt(2), grad_skip = grad_skip_out; a null gradient is zero.
void residual_backward(const float* grad_x, const float* grad_skip_out, float* grad_res, float* grad_skip,
                       int64_t n);
// out = a + b; returns the sum of b (in double).
double add_and_sum(const float* a, const float* b, float* out, int64_t n);

// Scalar forms of the same approximations, for tests.
float sigmoid(float x);
float tanh(float x);

}  // namespace diffwave::kernels::math
