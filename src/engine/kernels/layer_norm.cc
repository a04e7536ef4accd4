#include "engine/kernels/layer_norm.h"

#include <algorithm>
#include <cmath>

#include "common/status_macros.h"
#include "engine/kernels/avx512.h"
#include "engine/kernels/precision.h"
#include "fmt/format.h"

namespace tessera::engine::kernels {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using Dt = dnnl::memory::data_type;

namespace {

// One row: two passes over x (in L1) for the mean and the variance about it, as oneDNN's
// reference and PyTorch (no E[x^2] - E[x]^2 cancellation), then one to scale, shift and round.
[[TESSERA_AVX512_BF16]] void NormalizeRowToBf16(const float* x, int n, float eps,
                                                const float* gamma, const float* beta,
                                                BFloat16* y) {
  __m512 sum = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = avx512::Lanes(n - i);
    sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(m, x + i));
  }
  const float mean = avx512::HorizontalSum(sum) / static_cast<float>(n);
  const __m512 mean_v = _mm512_set1_ps(mean);
  __m512 squares = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = avx512::Lanes(n - i);
    const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), mean_v);
    squares = _mm512_fmadd_ps(d, d, squares);
  }
  const float rstd = 1.f / std::sqrt(avx512::HorizontalSum(squares) / static_cast<float>(n) + eps);
  const __m512 rstd_v = _mm512_set1_ps(rstd);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = avx512::Lanes(n - i);
    const __m512 normed =
        _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mean_v), rstd_v);
    const __m512 out = _mm512_fmadd_ps(normed, _mm512_maskz_loadu_ps(m, gamma + i),
                                       _mm512_maskz_loadu_ps(m, beta + i));
    avx512::Store(y + i, m, out);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<LayerNorm>> LayerNorm::Create(DnnlRuntime* runtime, int features,
                                                             float eps,
                                                             std::span<const float> gamma,
                                                             std::span<const float> beta) {
  if (features <= 0 || gamma.size() != size_t(features) || beta.size() != size_t(features)) {
    return absl::InvalidArgumentError(
        fmt::format("layer norm over {} features: got {} scales and {} shifts", features,
                    gamma.size(), beta.size()));
  }
  std::unique_ptr<LayerNorm> norm(new LayerNorm(runtime, features, eps));
  try {
    norm->gamma_ = memory({{features}, Dt::f32, Tag::a}, runtime->engine());
    norm->beta_ = memory({{features}, Dt::f32, Tag::a}, runtime->engine());
    std::copy(gamma.begin(), gamma.end(), static_cast<float*>(norm->gamma_.get_data_handle()));
    std::copy(beta.begin(), beta.end(), static_cast<float*>(norm->beta_.get_data_handle()));
  } catch (const dnnl::error& e) {
    return DnnlError(e, "allocate layer norm parameters");
  }
  return norm;
}

LayerNorm::Plan* LayerNorm::FindPlan(int rows) {
  for (Plan& plan : plans_) {
    if (plan.rows == rows) return &plan;
  }
  return nullptr;
}

absl::Status LayerNorm::Prepare(int rows) {
  if (rows <= 0) return absl::InvalidArgumentError(fmt::format("layer norm: {} rows", rows));
  if (FindPlan(rows) != nullptr) return absl::OkStatus();
  try {
    memory::desc data({rows, features_}, Dt::f32, Tag::ab);
    dnnl::layer_normalization_forward::desc desc(
        dnnl::prop_kind::forward_inference, data, eps_,
        dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift);
    dnnl::layer_normalization_forward::primitive_desc pd(desc, UserScratchpadAttr(),
                                                         runtime_->engine());
    Plan plan;
    plan.rows = rows;
    plan.primitive = dnnl::layer_normalization_forward(pd);
    plan.src = memory(pd.src_desc(), runtime_->engine(), DNNL_MEMORY_NONE);
    plan.dst = memory(pd.dst_desc(), runtime_->engine(), DNNL_MEMORY_NONE);
    plan.scratchpad = memory(pd.scratchpad_desc(), runtime_->engine(), DNNL_MEMORY_NONE);
    RETURN_IF_ERROR(runtime_->ReserveScratchpad(pd.scratchpad_desc().get_size()));
    plans_.push_back(std::move(plan));
  } catch (const dnnl::error& e) {
    return DnnlError(
        e, fmt::format("create a layer norm over {} features for {} rows", features_, rows));
  }
  return absl::OkStatus();
}

absl::Status LayerNorm::Run(int rows, const float* x, float* y) {
  Plan* plan = FindPlan(rows);
  if (plan == nullptr) {
    RETURN_IF_ERROR(Prepare(rows));
    plan = FindPlan(rows);
  }
  try {
    plan->src.set_data_handle(const_cast<float*>(x));
    plan->dst.set_data_handle(y);
    plan->scratchpad.set_data_handle(runtime_->scratchpad());
  } catch (const dnnl::error& e) {
    return DnnlError(e, "bind layer norm buffers");
  }
  return Execute(plan->primitive, runtime_->stream(),
                 {{DNNL_ARG_SRC, plan->src.get()},
                  {DNNL_ARG_DST, plan->dst.get()},
                  {DNNL_ARG_SCALE, gamma_.get()},
                  {DNNL_ARG_SHIFT, beta_.get()},
                  {DNNL_ARG_SCRATCHPAD, plan->scratchpad.get()}},
                 "layer norm");
}

}  // namespace tessera::engine::kernels

namespace tessera::engine::kernels {

absl::Status LayerNorm::Run(int rows, const float* x, BFloat16* y) {
  if (!HostHasAvx512Bf16()) {
    return absl::FailedPreconditionError("layer norm into bf16 needs AVX-512 BF16");
  }
  if (rows <= 0) return absl::InvalidArgumentError(fmt::format("layer norm: {} rows", rows));
  const float* gamma = static_cast<const float*>(gamma_.get_data_handle());
  const float* beta = static_cast<const float*>(beta_.get_data_handle());
  const int n = features_;
  const float eps = eps_;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    NormalizeRowToBf16(x + int64_t{r} * n, n, eps, gamma, beta, y + int64_t{r} * n);
  }
  return absl::OkStatus();
}

}  // namespace tessera::engine::kernels
