#include "engine/kernels/layer_norm.h"

#include <algorithm>

#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera::engine::kernels {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using Dt = dnnl::memory::data_type;

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
