// Multi-head scaled dot-product attention for a group of images:
//   for every image and head h:  O_h = softmax(scale * Q_h K_h^T) V_h
// Q, K and V are read in place through their strides (e.g. straight out of a fused QKV buffer
// [tokens][3 * hidden]: head h of Q is columns [h d, (h + 1) d)), and O is written in place into
// a [queries][hidden] buffer, heads side by side — no transposes, no copies. Scores go through a
// caller-provided buffer of scores_size() floats. Two kernels (AttentionKernel), same contract;
// Q, K, V in fp32 or bf16, O in fp32 or bf16 (AttentionSpec's element types).
//
// Contract: Create allocates; Run allocates no buffers of its own (the fused fp32 kernel's sgemm
// calls allocate their small packing buffers). Not re-entrant. kSeparate: call on a thread whose
// OpenMP count is set; kFused runs on spec.num_threads threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kernels/bfloat16.h"
#include "engine/kernels/dnnl_runtime.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace tessera::engine::kernels {

enum class AttentionKernel {
  // One pass per (image, head, block of at most 64 queries), the passes spread over the threads:
  // a block's scores (64 x keys floats: 50 KB for ViT-B/16, so they stay in L2) are computed,
  // softmaxed and multiplied by V before the next block's — oneDNN's sgemm for the two
  // products, kernels/softmax.h between them. No batched-matmul setup, no trip through memory.
  // In bf16: the AMX tile kernel (kernels/attention_amx.h; 32-query blocks, each head's K and V
  // repacked once per thread that takes part of it), only where AmxBf16Available() (refused
  // elsewhere: the separate kernel runs bf16 there).
  kFused,
  // Three oneDNN primitives over every image and head at once: a batched Q K^T matmul (images
  // x heads, so that the threads get equal shares), softmax, a batched scores x V matmul; the
  // group's scores (images x heads x queries x keys floats) round-trip through memory between
  // them. In bf16: bf16 matmuls (fp32 scores), softmax into bf16 probabilities.
  kSeparate,
};

// "fused" or "separate".
const char* AttentionKernelName(AttentionKernel kernel);

struct AttentionSpec {
  int num_images = 1;
  int num_heads = 0;
  int head_dim = 0;
  int num_queries = 0;  // query tokens
  int num_keys = 0;     // key / value tokens
  // Floats between consecutive tokens of each operand (head h starts h * head_dim floats in).
  int64_t q_row_stride = 0;
  int64_t k_row_stride = 0;
  int64_t v_row_stride = 0;
  int64_t out_row_stride = 0;
  // Floats between consecutive images of each operand (used when num_images > 1).
  int64_t q_image_stride = 0;
  int64_t k_image_stride = 0;
  int64_t v_image_stride = 0;
  int64_t out_image_stride = 0;
  float scale = 1.f;  // usually 1 / sqrt(head_dim)
  AttentionKernel kernel = AttentionKernel::kSeparate;
  // kFused: the threads Run's parallel region uses (each needs its own score block); required.
  int num_threads = 0;
  // Q, K and V's element type, and O's. bf16 inputs need a host that runs bf16 natively
  // (FAILED_PRECONDITION otherwise); strides count elements of the operand's type.
  ElementType input_type = ElementType::kF32;
  ElementType output_type = ElementType::kF32;
};

class Attention {
 public:
  static absl::StatusOr<std::unique_ptr<Attention>> Create(DnnlRuntime* runtime,
                                                           const AttentionSpec& spec);
  // `q`, `k`, `v` point at image 0 / token 0 / head 0 of each operand, `out` at image 0 / query
  // 0 / head 0 of the output; `scores` holds scores_size() floats (64-byte aligned is fastest).
  // The overload must match the spec's element types (INVALID_ARGUMENT otherwise).
  absl::Status Run(const float* q, const float* k, const float* v, float* out, float* scores);
  absl::Status Run(const BFloat16* q, const BFloat16* k, const BFloat16* v, float* out,
                   float* scores);
  absl::Status Run(const BFloat16* q, const BFloat16* k, const BFloat16* v, BFloat16* out,
                   float* scores);

  size_t scores_size() const;
  const AttentionSpec& spec() const { return spec_; }
  // What runs, for logs and benchmarks: "fused(sgemm, softmax avx2)", "fused(amx bf16)" or
  // "separate(<oneDNN's kernels>)".
  std::string ImplementationName() const;

 private:
  Attention(DnnlRuntime* runtime, const AttentionSpec& spec) : runtime_(runtime), spec_(spec) {}
  absl::Status CreateSeparate();
  absl::Status CreateAmx();
  // Checks the operands' types against the spec, then runs the spec's kernel.
  absl::Status RunTyped(ElementType input, const void* q, const void* k, const void* v,
                        ElementType output, void* out, float* scores);
  absl::Status RunSeparate(const void* q, const void* k, const void* v, void* out, float* scores);
  absl::Status RunFused(const float* q, const float* k, const float* v, float* out,
                        float* scores) const;
  void RunAmx(const BFloat16* q, const BFloat16* k, const BFloat16* v, void* out,
              float* scores) const;

  DnnlRuntime* runtime_;  // not owned
  AttentionSpec spec_;
  // kFused: blocks per head, the most queries in one, floats between score rows and between
  // threads' score blocks (fp32; in bf16 the AMX kernel's scratch per thread).
  int query_blocks_ = 0, block_rows_ = 0;
  int64_t block_stride_ = 0, thread_scores_ = 0;
  // kFused in bf16: each head's queries are split into this many parts (so that small batches
  // of few heads keep every thread busy), of part_queries_ queries each (the last fewer).
  int head_parts_ = 1, part_queries_ = 0;
  // kSeparate: in bf16 the softmax writes bf16 probabilities after the fp32 scores, from
  // `probabilities_offset_` floats into the scores buffer.
  dnnl::primitive scores_matmul_, softmax_, context_matmul_;
  std::string separate_kernels_;
  size_t probabilities_offset_ = 0;
  dnnl::memory q_, k_t_, v_, out_, scores_, scores_2d_, probabilities_, probabilities_2d_;
  dnnl::memory scratch_scores_, scratch_softmax_, scratch_context_;
};

}  // namespace tessera::engine::kernels
