// Scaled dot-product attention of one head of one image in bf16 on Intel AMX tiles:
//   O = softmax(scale * Q K^T) V,  Q [queries][d], K and V [keys][d] in bf16, O in fp32 or bf16.
// The flash-style loop: per block of 32 queries, the scores (32 x keys floats, in L1/L2) come out
// of the tiles (TDPBF16PS), are exponentiated on AVX-512 into bf16 probabilities, go back into
// the tiles against V, and each output row is divided by its sum at the end. K and V are first
// repacked into the tiles' pair-interleaved layout (once per call, reused by every query block).
//
// Numerics: products of bf16 values accumulated in fp32 (as oneDNN's bf16 matmul); exp on a
// degree-4 polynomial (relative error < 6e-5, far below the bf16 rounding of the
// probabilities); the row sums in fp32.
//
// Contract: only where AmxBf16Available(); the calling thread holds an AmxTiles while it calls
// AmxAttentionHead. Allocates nothing; thread-safe with a scratch buffer per thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "engine/kernels/bfloat16.h"

namespace tessera::engine::kernels {

// True when this CPU has AMX-BF16 and the kernel lets this process use the tiles (the
// permission is requested on the first call).
bool AmxBf16Available();

struct AmxHeadShape {
  int num_queries = 0;
  int num_keys = 0;
  int head_dim = 0;  // even (padded to a multiple of 32 inside)
  float scale = 1.f;
};

// INVALID_ARGUMENT unless the kernel supports `shape` (positive sizes, an even head_dim, a
// positive finite scale: the row maximum is taken before scaling).
absl::Status CheckAmxHeadShape(const AmxHeadShape& shape);

// Bytes of per-thread scratch AmxAttentionHead needs for `shape` (a multiple of 64; any
// alignment works, 64 is fastest).
size_t AmxAttentionScratchBytes(const AmxHeadShape& shape);

// Configures this thread's tiles for the kernel on construction, releases them on destruction.
class AmxTiles {
 public:
  AmxTiles();
  ~AmxTiles();
  AmxTiles(const AmxTiles&) = delete;
  AmxTiles& operator=(const AmxTiles&) = delete;
};

// The operands of one head. Strides are in elements between consecutive tokens; k_stride must be
// even (pairs of bf16 are read as 32-bit words). Only the queries in [query_begin, query_end)
// are computed (a head can be split between threads' tasks).
struct AmxHeadOperands {
  const BFloat16* q = nullptr;
  const BFloat16* k = nullptr;
  const BFloat16* v = nullptr;
  int64_t q_stride = 0, k_stride = 0, v_stride = 0, out_stride = 0;
  int query_begin = 0, query_end = 0;
  // True when the scratch already holds this head's packed K and V (the previous call with this
  // scratch was another part of the same head): they are not packed again.
  bool keys_values_packed = false;
};

void AmxAttentionHead(const AmxHeadShape& shape, const AmxHeadOperands& operands, float* out,
                      void* scratch);
void AmxAttentionHead(const AmxHeadShape& shape, const AmxHeadOperands& operands, BFloat16* out,
                      void* scratch);

}  // namespace tessera::engine::kernels
