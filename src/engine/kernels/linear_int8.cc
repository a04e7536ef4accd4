// Linear's int8 precision: a oneDNN matmul over uint8 activations and int8 weights
// (kernels/quantize.h has the arithmetic).
#include <algorithm>

#include "common/status_macros.h"
#include "engine/kernels/linear.h"
#include "fmt/format.h"

namespace tessera::engine::kernels {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using Dt = dnnl::memory::data_type;

absl::StatusOr<dnnl::primitive_desc> Linear::MakeInt8PrimitiveDesc(
    int rows, const memory::desc& weights_desc) const {
  try {
    dnnl::primitive_attr attr = UserScratchpadAttr();
    attr.set_post_ops(PostOps());
    // Per output channel (the last dimension of [rows][out]): x's scale times the weights'.
    attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    const memory::desc src({rows, spec_.in_features}, Dt::u8, Tag::ab);
    const memory::desc dst({rows, spec_.out_features}, Dt::f32, Tag::ab);
    if (scaled_bias_) {
      return dnnl::matmul::primitive_desc(
          dnnl::matmul::desc(src, weights_desc, scaled_bias_.get_desc(), dst), attr,
          runtime_->engine());
    }
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights_desc, dst), attr,
                                        runtime_->engine());
  } catch (const dnnl::error& e) {
    return DnnlError(e, fmt::format("create a {}x{} int8 linear layer for {} rows",
                                    spec_.in_features, spec_.out_features, rows));
  }
}

absl::Status Linear::PackInt8Weights(const memory::desc& packed, std::span<const float> weights) {
  absl::StatusOr<QuantizedWeights> quantized =
      QuantizeWeightsPerRow(weights, spec_.out_features, spec_.in_features, Int8WeightLimit());
  if (!quantized.ok()) {
    return absl::Status(quantized.status().code(),
                        fmt::format("int8 linear layer {}x{}: {}", spec_.in_features,
                                    spec_.out_features, std::string(quantized.status().message())));
  }
  try {
    const dnnl::engine& engine = runtime_->engine();
    weight_scales_ = memory({{spec_.out_features}, Dt::f32, Tag::a}, engine);
    std::copy(quantized->scales.begin(), quantized->scales.end(),
              static_cast<float*>(weight_scales_.get_data_handle()));
    // PyTorch's [out][in] is the matmul's [in][out] weights with the outer dimension last (ba).
    memory plain({{spec_.in_features, spec_.out_features}, Dt::s8, Tag::ba}, engine,
                 quantized->values.data());
    weights_ = memory(packed, engine);
    dnnl::reorder(plain, weights_).execute(runtime_->stream(), plain, weights_);
    runtime_->stream().wait();
  } catch (const dnnl::error& e) {
    return DnnlError(
        e, fmt::format("prepack a {}x{} int8 linear layer", spec_.in_features, spec_.out_features));
  }
  return absl::OkStatus();
}

absl::Status Linear::RunInt8(Plan& plan, const float* x, float* y) {
  auto* q = static_cast<uint8_t*>(runtime_->staging());
  ASSIGN_OR_RETURN(U8Quantization quantization, quantizer_->Run(plan.rows, x, q));
  const float* weight_scales = static_cast<const float*>(weight_scales_.get_data_handle());
  float* output_scales = static_cast<float*>(output_scales_.get_data_handle());
  for (int o = 0; o < spec_.out_features; ++o) {
    output_scales[o] = quantization.scale * weight_scales[o];
  }
  *static_cast<int32_t*>(zero_point_.get_data_handle()) = quantization.zero_point;
  if (scaled_bias_) {
    // oneDNN 2.x adds an int8 primitive's bias to the sums before the output scales:
    // y = scale * (sum + bias'), so bias' = bias / scale. (A binary-add post-op would add it
    // after, but next to the residual's sum post-op oneDNN 2.6 has only its reference kernel for
    // that: two orders of magnitude slower.) A scale that underflowed to 0 leaves the bias out: the
    // layer's weights and inputs are then ~1e-38, and no bias would make its output meaningful.
    const float* bias = static_cast<const float*>(bias_.get_data_handle());
    float* scaled = static_cast<float*>(scaled_bias_.get_data_handle());
    for (int o = 0; o < spec_.out_features; ++o) {
      scaled[o] = output_scales[o] > 0.f ? bias[o] / output_scales[o] : 0.f;
    }
  }
  try {
    plan.src.set_data_handle(q);
    plan.dst.set_data_handle(y);
    plan.scratchpad.set_data_handle(runtime_->scratchpad());
  } catch (const dnnl::error& e) {
    return DnnlError(e, "bind int8 linear layer buffers");
  }
  const memory& weights = plan.weights ? plan.weights : weights_;
  // The bias goes last: a layer without one passes one argument fewer.
  const dnnl_exec_arg_t args[] = {
      {DNNL_ARG_SRC, plan.src.get()},
      {DNNL_ARG_WEIGHTS, weights.get()},
      {DNNL_ARG_DST, plan.dst.get()},
      {DNNL_ARG_SCRATCHPAD, plan.scratchpad.get()},
      {DNNL_ARG_ATTR_OUTPUT_SCALES, output_scales_.get()},
      {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zero_point_.get()},
      {DNNL_ARG_BIAS, scaled_bias_ ? scaled_bias_.get() : nullptr},
  };
  return Execute(plan.primitive, runtime_->stream(),
                 std::span<const dnnl_exec_arg_t>(args, bias_ ? 7 : 6), "int8 linear layer");
}

}  // namespace tessera::engine::kernels
