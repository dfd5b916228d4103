#include "model/residual_kernels_math.h"

#include <cmath>
#include <cstring>

// One copy of each loop per instruction set, picked by the loader (GCC/Clang function
// multi-versioning); elsewhere a single portable build.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DIFFWAVE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DIFFWAVE_CLONES
#endif

namespace diffwave::kernels::math {
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752440f;

inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

// e^x for x in float range; Cephes expf's reduction and polynomial.
inline float exp_poly(float x) {
  x = x != x ? 0.0f : x;  // NaN (the callers return it themselves) must not reach the int conversion: UB
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -87.3365478515625f ? -87.3365478515625f : x;
  // Round to nearest by the 1.5 * 2^23 trick (vectorises everywhere, unlike floor).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  x = x - n * 0.693359375f - n * -2.12194440e-4f;
  const float z = x * x;
  float y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * z + x + 1.0f;
  return y * bits_to_float((static_cast<int32_t>(n) + 127) << 23);
}

inline float sigmoid_poly(float x) {
  const float s = 1.0f / (1.0f + exp_poly(-x));
  return x != x ? x : s;  // keep NaN a NaN, so non-finite steps are still caught
}

// Cephes tanhf: an odd polynomial near zero (no cancellation), 1 - 2 / (e^2|x| + 1) beyond.
inline float tanh_poly(float x) {
  const float a = std::fabs(x);
  const float s = x * x;
  float p = -5.70498872745e-3f;
  p = p * s + 2.06390887954e-2f;
  p = p * s - 5.37397155531e-2f;
  p = p * s + 1.33314422036e-1f;
  p = p * s - 3.33332819422e-1f;
  const float small = p * s * x + x;
  float large = 1.0f - 2.0f / (exp_poly(2.0f * a) + 1.0f);
  large = x < 0.0f ? -large : large;
  const float t = a < 0.625f ? small : large;
  return x != x ? x : t;
}

}  // namespace

float sigmoid(float x) { return sigmoid_poly(x); }
float tanh(float x) { return tanh_poly(x); }

DIFFWAVE_CLONES void add_scalar(const float* x, float s, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] + s;
}

DIFFWAVE_CLONES void gate_forward(const float* gate, const float* filter, float* g, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = sigmoid_poly(gate[i]) * tanh_poly(filter[i]);
}

DIFFWAVE_CLONES void gate_backward(const float* grad_g, const float* gate, const float* filter, float* grad_gate,
                                   float* grad_filter, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float s = sigmoid_poly(gate[i]);
    const float t = tanh_poly(filter[i]);
    grad_gate[i] = grad_g[i] * t * (s * (1.0f - s));
    grad_filter[i] = grad_g[i] * s * (1.0f - t * t);
  }
}

DIFFWAVE_CLONES void residual_forward(const float* x, const float* res, const float* skip, const float* skip_in,
                                      float* x_out, float* skip_out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x_out[i] = (x[i] + res[i]) * kInvSqrt2;
  if (skip_in) {
    for (int64_t i = 0; i < n; ++i) skip_out[i] = skip[i] + skip_in[i];
  } else {
    std::memcpy(skip_out, skip, n * sizeof(float));
  }
}

DIFFWAVE_CLONES void residual_backward(const float* grad_x, const float* grad_skip_out, float* grad_res,
                                       float* grad_skip, int64_t n) {
  if (grad_x) {
    for (int64_t i = 0; i < n; ++i) grad_res[i] = grad_x[i] * kInvSqrt2;
  } else {
    std::memset(grad_res, 0, n * sizeof(float));
  }
  if (grad_skip_out)
    std::memcpy(grad_skip, grad_skip_out, n * sizeof(float));
  else
    std::memset(grad_skip, 0, n * sizeof(float));
}

DIFFWAVE_CLONES double add_and_sum(const float* a, const float* b, float* out, int64_t n) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) {
    out[i] = a[i] + b[i];
    sum += b[i];
  }
  return sum;
}

}  // namespace diffwave::kernels::math
