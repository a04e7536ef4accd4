// LayerNorm over the last dimension of a row-major [rows][features] tensor, with a learned scale
// (gamma) and shift (beta), on oneDNN's layer_normalization primitive:
//   y = (x - mean) / sqrt(var + eps) * gamma + beta   (biased variance, as PyTorch).
//
// Contract: as kernels::Linear — Create/Prepare allocate, Run allocates no buffers after the first
// call for a row count, not re-entrant, call on a thread whose OpenMP count is set.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
  dnnl::memory gamma_, beta_;
  std::vector<Plan> plans_;
};

}  // namespace tessera::engine::kernels
