// GELU (the erf form, 0.5 x (1 + erf(x / sqrt 2))) over a GEMM's fp32 result, written as fp32 or
// bf16: the epilogue of the MLP's first GEMM in bf16 and int8 (kernels/linear.h). oneDNN 2.6's
// fused gelu_erf post-op costs about as much as the GEMM's own work at ViT-B/16's MLP shapes on
// AMX hosts (docs/performance.md); this pass reads the fp32 result once, while it is in cache.
//
// erf by Abramowitz & Stegun 7.1.28 (|error| <= 3e-7, no exp), the reciprocal by VRCP14PS and a
// Newton step: the result is within a few 1e-7 |x| of the exact GELU before the one rounding to
// bf16. NaN stays NaN.
//
// Contract: GeluErf only on hosts with AVX-512 (HostHasAvx512), GeluErfToBf16 only on hosts with
// AVX-512 BF16 (HostHasAvx512Bf16; every host that runs bf16 natively). Both run on the calling
// thread's OpenMP threads and allocate nothing.
#pragma once

#include <cstdint>

#include "engine/kernels/bfloat16.h"
#include "engine/kernels/precision.h"

namespace tessera::engine::kernels {

// y[i] = GELU(x[i]) for i < n; y may be x.
void GeluErf(const float* x, float* y, int64_t n);
// y[i] = bf16(GELU(x[i])) for i < n.
void GeluErfToBf16(const float* x, BFloat16* y, int64_t n);

}  // namespace tessera::engine::kernels
