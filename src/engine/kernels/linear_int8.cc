// Linear's int8 precision: a oneDNN int8 convolution (1x1, as fp32 and bf16 use: prepacked
// weights) over uint8 activations and int8 weights, or an int8 matmul where the host has no fast
// convolution for it (kernels/quantize.h has the arithmetic).
//
// Measured on AVX2 (AMD EPYC Zen 1, 2 threads, ViT-B/16 at one image): the matmul (gemm:jit,
// which packs the weights on every call) ran 28 GOP/s at 197 rows, the convolution
// (jit_uni_int8_1x1) 68-73 -- fp32's rate on this CPU.
//
// x's zero point is not given to oneDNN: it is folded into each call's bias instead,
// sum_i (qx - zp) qw = sum_i qx qw - zp W[o] with W[o] = sum_i qw[o][i] (weight_sums_). oneDNN 2.6
// has its fast AMX int8 convolution (brgconv_1x1) only for sources without a zero point: with
// one it runs an older kernel 1.3-1.6x slower at ViT-B/16's shapes (docs/performance.md).
#include <algorithm>
#include <limits>
#include <vector>

#include "common/status_macros.h"
#include "engine/kernels/linear.h"
#include "fmt/format.h"

namespace tessera::engine::kernels {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using Dt = dnnl::memory::data_type;

memory::desc Linear::Int8Weights(memory::format_tag tag) const {
  if (int8_convolution_) {
    return memory::desc({spec_.out_features, spec_.in_features, 1, 1}, Dt::s8, tag);
  }
  return memory::desc({spec_.in_features, spec_.out_features}, Dt::s8, tag);
}

absl::StatusOr<dnnl::primitive_desc> Linear::MakeInt8PrimitiveDesc(
    int rows, const memory::desc& weights_desc) const {
  const int in = spec_.in_features, out = spec_.out_features;
  try {
    dnnl::primitive_attr attr = UserScratchpadAttr();
    if (int8_convolution_) {
      // The convolution takes constant output scales only: the weights' (ones while the layout
      // is being chosen, before they are quantized); x's scale, known per call, is a runtime
      // scalar multiplied in by the first post-op.
      std::vector<float> scales(size_t(out), 1.f);
      if (weight_scales_) {
        const float* w = static_cast<const float*>(weight_scales_.get_data_handle());
        scales.assign(w, w + out);
      }
      attr.set_output_scales(1 << 1, scales);
      attr.set_post_ops(PostOps(/*scale_by_x=*/true));
      // [rows][features] row-major is NHWC with the rows as the height (as in linear.cc).
      const memory::desc src({1, in, rows, 1}, Dt::u8, Tag::nhwc);
      const memory::desc dst({1, out, rows, 1}, OutputType(), Tag::nhwc);
      const memory::dims strides = {1, 1}, padding = {0, 0};
      const auto prop = dnnl::prop_kind::forward_inference;
      const auto algo = dnnl::algorithm::convolution_direct;
      // Always a bias: it carries the zero point's term.
      return dnnl::convolution_forward::primitive_desc(
          dnnl::convolution_forward::desc(prop, algo, src, weights_desc, ScaledBiasDesc(), dst,
                                          strides, padding, padding),
          attr, runtime_->engine());
    }
    attr.set_post_ops(PostOps());
    // Per output channel (the last dimension of [rows][out]): x's scale times the weights'.
    attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});
    const memory::desc src({rows, in}, Dt::u8, Tag::ab);
    const memory::desc dst({rows, out}, OutputType(), Tag::ab);
    return dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(src, weights_desc, ScaledBiasDesc(), dst), attr, runtime_->engine());
  } catch (const dnnl::error& e) {
    return DnnlError(e, fmt::format("create a {}x{} int8 linear layer for {} rows", in, out, rows));
  }
}

void Linear::ChooseInt8Primitive(int rows) {
  int8_convolution_ = true;
  absl::StatusOr<dnnl::primitive_desc> convolution =
      MakeInt8PrimitiveDesc(rows, Int8Weights(Tag::any));
  int8_convolution_ = convolution.ok() && !IsReferenceKernel(convolution->impl_info_str());
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
    weight_scales_ = memory(ChannelsDesc(), engine);
    std::copy(quantized->scales.begin(), quantized->scales.end(),
              static_cast<float*>(weight_scales_.get_data_handle()));
    SumWeights(quantized->values);
    // PyTorch's [out][in]: the convolution's oihw, the matmul's [in][out] outer dimension last.
    memory plain(Int8Weights(int8_convolution_ ? Tag::oihw : Tag::ba), engine,
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

void Linear::SumWeights(std::span<const int8_t> values) {
  const int in = spec_.in_features;
  weight_sums_.assign(size_t(spec_.out_features), 0);
  for (int o = 0; o < spec_.out_features; ++o) {
    for (int i = 0; i < in; ++i) weight_sums_[o] += values[size_t(o) * in + i];
  }
}

absl::Status Linear::SumPackedWeights() {
  try {
    std::vector<int8_t> values(size_t(spec_.out_features) * spec_.in_features);
    memory plain(Int8Weights(int8_convolution_ ? Tag::oihw : Tag::ba), runtime_->engine(),
                 values.data());
    dnnl::reorder(weights_, plain).execute(runtime_->stream(), weights_, plain);
    runtime_->stream().wait();
    SumWeights(values);
  } catch (const dnnl::error& e) {
    return DnnlError(e, fmt::format("sum a {}x{} int8 linear layer's packed weights",
                                    spec_.in_features, spec_.out_features));
  }
  return absl::OkStatus();
}

absl::Status Linear::RunInt8(Plan& plan, const float* x, void* y) {
  auto* q = static_cast<uint8_t*>(runtime_->staging());
  ASSIGN_OR_RETURN(U8Quantization quantization, quantizer_->Run(plan.rows, x, q));
  const float* weight_scales = static_cast<const float*>(weight_scales_.get_data_handle());
  float* output_scales = static_cast<float*>(output_scales_.get_data_handle());
  for (int o = 0; o < spec_.out_features; ++o) {
    output_scales[o] = quantization.scale * weight_scales[o];
  }
  *static_cast<float*>(x_scale_.get_data_handle()) = quantization.scale;
  // oneDNN 2.x adds an int8 primitive's bias to the sums before the output scales (and, in the
  // convolution, the x-scale post-op): y = scale * (sum + bias'), so bias' = bias / scale, less
  // the zero point's term zp W[o] (above). (A binary-add post-op would add the bias after, but
  // next to the residual's sum post-op oneDNN 2.6 has only its reference kernel for that: two
  // orders of magnitude slower.) Both scales are at least 2^-40, so the divisor is a normal
  // float; a value beyond float's range (a bias over ~1e14) saturates instead of becoming inf.
  const float* bias = bias_ ? static_cast<const float*>(bias_.get_data_handle()) : nullptr;
  float* scaled = static_cast<float*>(scaled_bias_.get_data_handle());
  constexpr double kFloatMax = std::numeric_limits<float>::max();
  for (int o = 0; o < spec_.out_features; ++o) {
    const double value =
        (bias != nullptr ? double{bias[o]} / double{output_scales[o]} : 0.0) -
        static_cast<double>(quantization.zero_point) * static_cast<double>(weight_sums_[o]);
    scaled[o] = static_cast<float>(std::clamp(value, -kFloatMax, kFloatMax));
  }
  try {
    plan.src.set_data_handle(q);
    plan.dst.set_data_handle(y);
    plan.scratchpad.set_data_handle(runtime_->scratchpad());
  } catch (const dnnl::error& e) {
    return DnnlError(e, "bind int8 linear layer buffers");
  }
  const memory& weights = plan.weights ? plan.weights : weights_;
  return Execute(
      plan.primitive, runtime_->stream(),
      {{DNNL_ARG_SRC, plan.src.get()},
       {DNNL_ARG_WEIGHTS, weights.get()},
       {DNNL_ARG_DST, plan.dst.get()},
       {DNNL_ARG_SCRATCHPAD, plan.scratchpad.get()},
       int8_convolution_
           ? dnnl_exec_arg_t{DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, x_scale_.get()}
           : dnnl_exec_arg_t{DNNL_ARG_ATTR_OUTPUT_SCALES, output_scales_.get()},
       {DNNL_ARG_BIAS, scaled_bias_.get()}},
      "int8 linear layer");
}

}  // namespace tessera::engine::kernels
