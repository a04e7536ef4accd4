// LayerNorm over the last dimension of a row-major [rows][features] tensor, with a learned scale
// (gamma) and shift (beta):
//   y = (x - mean) / sqrt(var + eps) * gamma + beta   (biased variance, as PyTorch).
// fp32 y on oneDNN's layer_normalization primitive; bf16 y (the input of a bf16 GEMM) on an
// AVX-512 kernel of Tessera's own that computes in fp32 and rounds once on the way out (oneDNN
// 2.6's layer norm writes its source's type only).
//
// Contract: as kernels::Linear — Create/Prepare allocate, Run allocates no buffers after the first
// call for a row count, not re-entrant, call on a thread whose OpenMP count is set.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kernels/bfloat16.h"
#include "engine/kernels/dnnl_runtime.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace tessera::engine::kernels {

class LayerNorm {
 public:
  // `gamma` and `beta` have `features` values each (copied).
  static absl::StatusOr<std::unique_ptr<LayerNorm>> Create(DnnlRuntime* runtime, int features,
                                                           float eps, std::span<const float> gamma,
                                                           std::span<const float> beta);
  absl::Status Prepare(int rows);
  // y[rows][features] = LayerNorm(x[rows][features]); x and y dense and not overlapping.
  absl::Status Run(int rows, const float* x, float* y);
  // The same, rounded to bf16. FAILED_PRECONDITION on a host without AVX-512 BF16 (one that runs
  // bf16 natively has it: kernels/precision.h).
  absl::Status Run(int rows, const float* x, BFloat16* y);
  int features() const { return features_; }

 private:
  struct Plan {
    int rows = 0;
    dnnl::primitive primitive;
    dnnl::memory src, dst, scratchpad;
  };
  LayerNorm(DnnlRuntime* runtime, int features, float eps)
      : runtime_(runtime), features_(features), eps_(eps) {}
  Plan* FindPlan(int rows);

  DnnlRuntime* runtime_;  // not owned
  int features_;
  float eps_;
  dnnl::memory gamma_, beta_;  // features floats each
  std::vector<Plan> plans_;
};

}  // namespace tessera::engine::kernels
