// Row-wise softmax in place, for attention scores that are still in the cache: one pass for the
// row maximum, one for exp(x - max) and its sum, one to scale by 1 / sum. AVX2 + FMA where the
// host has them (a polynomial exp, relative error < 2e-7), plain C++ elsewhere; chosen at run
// time. NaN in a row makes the row NaN (as the reference softmax); -inf scores get probability
// 0, and a row of only -inf becomes NaN (-inf minus its -inf maximum), as in PyTorch.
//
// Thread-safe (no state); allocates nothing.
#pragma once

#include <cstdint>

namespace tessera::engine::kernels {

// Softmax over `cols` floats of each of `rows` rows, `stride` floats apart.
void SoftmaxRows(float* data, int64_t rows, int64_t cols, int64_t stride);

// The implementation SoftmaxRows runs on this host ("avx2" or "scalar").
const char* SoftmaxImplementationName();

// The plain C++ implementation, whatever the host (so that tests cover it on AVX2 hosts too).
void SoftmaxRowsScalar(float* data, int64_t rows, int64_t cols, int64_t stride);

}  // namespace tessera::engine::kernels
