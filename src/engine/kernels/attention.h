// Multi-head scaled dot-product attention for a group of images, on oneDNN:
//   for every image and head h:  O_h = softmax(scale * Q_h K_h^T) V_h
// (one batched matmul over images x heads, so that the threads get equal shares: 3 heads on 2
// threads split badly, 2 images x 3 heads evenly).
// Q, K and V are read in place with strided memory descriptors (e.g. straight out of a fused
// QKV buffer [tokens][3 * hidden]: head h of Q is columns [h d, (h + 1) d)), and O is written in
// place into a [queries][hidden] buffer, heads side by side — no transposes, no copies. Scores
// go through a caller-provided buffer of num_images * num_heads * num_queries * num_keys floats.
//
// Contract: Create allocates; Run allocates no buffers. Not re-entrant. Call on a thread whose
// OpenMP count is set.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kernels/dnnl_runtime.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace tessera::engine::kernels {

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
};

class Attention {
 public:
  static absl::StatusOr<std::unique_ptr<Attention>> Create(DnnlRuntime* runtime,
                                                           const AttentionSpec& spec);
  // `q`, `k`, `v` point at image 0 / token 0 / head 0 of each operand, `out` at image 0 / query
  // 0 / head 0 of the output; `scores` holds scores_size() floats.
  absl::Status Run(const float* q, const float* k, const float* v, float* out, float* scores);

  size_t scores_size() const {
    return size_t(spec_.num_images) * size_t(spec_.num_heads) * size_t(spec_.num_queries) *
           size_t(spec_.num_keys);
  }
  const AttentionSpec& spec() const { return spec_; }

 private:
  Attention(DnnlRuntime* runtime, const AttentionSpec& spec) : runtime_(runtime), spec_(spec) {}

  DnnlRuntime* runtime_;  // not owned
  AttentionSpec spec_;
  dnnl::primitive scores_matmul_, softmax_, context_matmul_;
  dnnl::memory q_, k_t_, v_, out_, scores_, scores_2d_;
  dnnl::memory scratch_scores_, scratch_softmax_, scratch_context_;
};

}  // namespace tessera::engine::kernels
