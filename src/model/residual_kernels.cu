// CUDA twins of the CPU residual-layer loops (residual_kernels_math.cpp): one thread per element
// for the elementwise passes, one block per row for the step-gradient sum.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "model/residual_kernels_cuda.h"

namespace diffwave::kernels::cuda {
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr int kThreads = 256;

void check_launch(const char* name) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(name) + ": " + cudaGetErrorString(err));
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }
cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

__device__ inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

__global__ void step_add_kernel(const float* x, const float* step, float* xs, int64_t C, int64_t T, bool per_item,
                                int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t row = i / T;
  xs[i] = x[i] + step[per_item ? row : row % C];
}

// Element i of the [B, C, T] half: the gate's offset in z and the filter's, C * T further on.
__device__ inline int64_t gate_offset(int64_t i, int64_t C, int64_t T) {
  const int64_t b = i / (C * T), rest = i % (C * T);
  return b * 2 * C * T + rest;
}

__global__ void gate_forward_kernel(const float* z, float* g, int64_t C, int64_t T, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t o = gate_offset(i, C, T);
  g[i] = sigmoidf(z[o]) * tanhf(z[o + C * T]);
}

__global__ void gate_backward_kernel(const float* grad_g, const float* z, float* grad_z, int64_t C, int64_t T,
                                     int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t o = gate_offset(i, C, T);
  const float s = sigmoidf(z[o]), t = tanhf(z[o + C * T]), gg = grad_g[i];
  grad_z[o] = gg * t * (s * (1.0f - s));
  grad_z[o + C * T] = gg * s * (1.0f - t * t);
}

__global__ void residual_forward_kernel(const float* x, const float* y, const float* skip_in, float* x_out,
                                        float* skip_out, int64_t C, int64_t T, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t o = gate_offset(i, C, T);
  x_out[i] = (x[i] + y[o]) * kInvSqrt2;
  skip_out[i] = skip_in ? y[o + C * T] + skip_in[i] : y[o + C * T];
}

__global__ void residual_backward_kernel(const float* grad_x, const float* grad_skip, float* grad_y, int64_t C,
                                         int64_t T, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t o = gate_offset(i, C, T);
  grad_y[o] = grad_x ? grad_x[i] * kInvSqrt2 : 0.0f;
  grad_y[o + C * T] = grad_skip ? grad_skip[i] : 0.0f;
}

// One block per (b, c) row: grad_x = grad_y's residual half + grad_xs, and the row's sum of
// grad_xs (the step projection's gradient).
__global__ void input_backward_kernel(const float* grad_y, const float* grad_xs, float* grad_x, float* grad_step,
                                      int64_t C, int64_t T) {
  const int64_t row = blockIdx.x, b = row / C, c = row % C;
  const float* gy = grad_y + (b * 2 * C + c) * T;
  const float* gp = grad_xs + row * T;
  float* gx = grad_x + row * T;
  float sum = 0.0f;
  for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
    gx[t] = gy[t] + gp[t];
    sum += gp[t];
  }
  __shared__ float partial[kThreads];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) grad_step[row] = partial[0];
}

}  // namespace

void step_add(const float* x, const float* step, float* xs, int64_t B, int64_t C, int64_t T, bool per_item,
              void* stream) {
  const int64_t n = B * C * T;
  if (n == 0) return;
  step_add_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(x, step, xs, C, T, per_item, n);
  check_launch("step_add");
}

void gate_forward(const float* z, float* g, int64_t B, int64_t C, int64_t T, void* stream) {
  const int64_t n = B * C * T;
  if (n == 0) return;
  gate_forward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(z, g, C, T, n);
  check_launch("gate_forward");
}

void gate_backward(const float* grad_g, const float* z, float* grad_z, int64_t B, int64_t C, int64_t T, void* stream) {
  const int64_t n = B * C * T;
  if (n == 0) return;
  gate_backward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(grad_g, z, grad_z, C, T, n);
  check_launch("gate_backward");
}

void residual_forward(const float* x, const float* y, const float* skip_in, float* x_out, float* skip_out, int64_t B,
                      int64_t C, int64_t T, void* stream) {
  const int64_t n = B * C * T;
  if (n == 0) return;
  residual_forward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(x, y, skip_in, x_out, skip_out, C, T, n);
  check_launch("residual_forward");
}

void residual_backward(const float* grad_x, const float* grad_skip, float* grad_y, int64_t B, int64_t C, int64_t T,
                       void* stream) {
  const int64_t n = B * C * T;
  if (n == 0) return;
  residual_backward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(grad_x, grad_skip, grad_y, C, T, n);
  check_launch("residual_backward");
}

void input_backward(const float* grad_y, const float* grad_xs, float* grad_x, float* grad_step, int64_t B, int64_t C,
                    int64_t T, void* stream) {
  if (B * C == 0) return;
  input_backward_kernel<<<static_cast<unsigned>(B * C), kThreads, 0, as_stream(stream)>>>(grad_y, grad_xs, grad_x,
                                                                                          grad_step, C, T);
  check_launch("input_backward");
}

}  // namespace diffwave::kernels::cuda
