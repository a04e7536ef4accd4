// Naive reference implementations (double accumulation, no blocking, no fusion) that the
// oneDNN kernels are checked against — llama.cpp test-backend-ops style.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/kernels/attention.h"
#include "engine/kernels/linear.h"
#include "engine/kernels/patches.h"

namespace tessera::engine::kernels::reference {

double Activate(Eltwise activation, double x);

// y[r][o] = epilogue(act(sum_i x[r][i] w[o][i] + b[o])); accumulate adds the old y.
void Linear(const LinearSpec& spec, int rows, std::span<const float> x, std::span<const float> w,
            std::span<const float> b, std::span<float> y);

void LayerNorm(int rows, int features, float eps, std::span<const float> x,
               std::span<const float> gamma, std::span<const float> beta, std::span<float> y);

// Same operand layout as kernels::Attention::Run (strided rows, heads side by side).
void Attention(const AttentionSpec& spec, const float* q, const float* k, const float* v,
               float* out);

// A direct convolution with kernel = stride = patch over one CHW image; weight
// [out][channels][ph][pw]; out [patches][out_channels].
void PatchConvolution(const PatchGeometry& g, int out_channels, std::span<const float> image,
                      std::span<const float> weight, std::span<const float> bias,
                      std::span<float> out);

}  // namespace tessera::engine::kernels::reference
