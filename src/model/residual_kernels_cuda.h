// CUDA launchers of the residual-layer kernels (model/residual_kernels.h), on raw float pointers
// and a cudaStream_t passed as void*, so that neither side needs the other's headers.
#pragma once
#include <cstdint>

namespace diffwave::kernels::cuda {

void step_add(const float* x, const float* step, float* xs, int64_t B, int64_t C, int64_t T, bool per_item,
              void* stream);
void gate_forward(const float* z, float* g, int64_t B, int64_t C, int64_t T, void* stream);
void gate_backward(const float* grad_g, const float* z, float* grad_z, int64_t B, int64_t C, int64_t T, void* stream);
void residual_forward(const float* x, const float* y, const float* skip_in, float* x_out, float* skip_out, int64_t B,
                      int64_t C, int64_t T, void* stream);
void residual_backward(const float* grad_x, const float* grad_skip, float* grad_y, int64_t B, int64_t C, int64_t T,
                       void* stream);
void input_backward(const float* grad_y, const float* grad_xs, float* grad_x, float* grad_step, int64_t B, int64_t C,
                    int64_t T, void* stream);

}  // namespace diffwave::kernels::cuda
