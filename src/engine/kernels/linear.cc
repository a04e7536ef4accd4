#include "engine/kernels/linear.h"

#include <algorithm>

#include "common/status_macros.h"
#include "engine/kernels/gelu.h"
#include "fmt/format.h"

namespace tessera::engine::kernels {
namespace {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using Dt = dnnl::memory::data_type;

// Rows used to pick the prepacked weight layout when the spec gives no typical row count.
constexpr int kLayoutRows = 256;

// The token dimension is the convolution's height: [1, features, rows, 1] in NHWC is exactly a
// row-major [rows][features] matrix.
memory::desc Activations(int rows, int features, Dt type = Dt::f32) {
  return memory::desc({1, features, rows, 1}, type, Tag::nhwc);
}

// The data type of the GEMM's inputs (source and weights).
Dt InputType(Precision precision) { return precision == Precision::kBF16 ? Dt::bf16 : Dt::f32; }

size_t ElementSize(ElementType type) {
  return type == ElementType::kBF16 ? sizeof(BFloat16) : sizeof(float);
}

}  // namespace

memory::desc Linear::AnyWeights() const {
  if (spec_.precision == Precision::kInt8) return Int8Weights(Tag::any);
  return memory::desc({spec_.out_features, spec_.in_features, 1, 1}, InputType(spec_.precision),
                      Tag::any);
}

bool Linear::ChooseActivationAfterGemm() const {
  if (spec_.activation != Eltwise::kGeluErf || spec_.epilogue != LinearEpilogue::kStore) {
    return false;
  }
  if (spec_.precision == Precision::kBF16) {
    return spec_.output_type == ElementType::kBF16 && HostHasAvx512Bf16();
  }
  return spec_.precision == Precision::kInt8 && spec_.output_type == ElementType::kF32 &&
         HostHasAvx512();
}

dnnl::post_ops Linear::PostOps(bool scale_by_x) const {
  dnnl::post_ops post_ops;
  if (scale_by_x) post_ops.append_binary(dnnl::algorithm::binary_mul, XScaleDesc());
  switch (ActivationAfterGemm() ? Eltwise::kNone : spec_.activation) {
    case Eltwise::kNone:
      break;
    case Eltwise::kGeluErf:
      post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
      break;
    case Eltwise::kGeluTanh:
      post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_tanh, 0.f, 0.f);
      break;
    case Eltwise::kRelu:
      post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      break;
    case Eltwise::kSilu:
      post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);
      break;
  }
  if (spec_.epilogue == LinearEpilogue::kAccumulate) post_ops.append_sum(1.f);
  return post_ops;
}

absl::StatusOr<dnnl::primitive_desc> Linear::MakePrimitiveDesc(
    int rows, const memory::desc& weights_desc) const {
  if (spec_.precision == Precision::kInt8) return MakeInt8PrimitiveDesc(rows, weights_desc);
  try {
    dnnl::primitive_attr attr = UserScratchpadAttr();
    attr.set_post_ops(PostOps());
    memory::desc src = Activations(rows, spec_.in_features, InputType(spec_.precision));
    memory::desc dst =
        Activations(rows, spec_.out_features, ActivationAfterGemm() ? Dt::f32 : OutputType());
    const memory::dims strides = {1, 1}, padding = {0, 0};
    const auto prop = dnnl::prop_kind::forward_inference;
    const auto algo = dnnl::algorithm::convolution_direct;
    if (bias_) {
      dnnl::convolution_forward::desc desc(prop, algo, src, weights_desc, bias_.get_desc(), dst,
                                           strides, padding, padding);
      return dnnl::convolution_forward::primitive_desc(desc, attr, runtime_->engine());
    }
    dnnl::convolution_forward::desc desc(prop, algo, src, weights_desc, dst, strides, padding,
                                         padding);
    return dnnl::convolution_forward::primitive_desc(desc, attr, runtime_->engine());
  } catch (const dnnl::error& e) {
    return DnnlError(e, fmt::format("create a {}x{} linear layer for {} rows", spec_.in_features,
                                    spec_.out_features, rows));
  }
}

absl::StatusOr<std::unique_ptr<Linear>> Linear::Create(
    DnnlRuntime* runtime, const LinearSpec& spec, std::span<const float> weights,
    std::span<const float> bias, std::span<const PackedWeightFile::Tensor> shared) {
  if (spec.in_features <= 0 || spec.out_features <= 0) {
    return absl::InvalidArgumentError(fmt::format("linear layer {}x{}: sizes must be positive",
                                                  spec.in_features, spec.out_features));
  }
  const size_t weight_count = size_t(spec.in_features) * size_t(spec.out_features);
  if (weights.size() != weight_count ||
      (!bias.empty() && bias.size() != size_t(spec.out_features))) {
    return absl::InvalidArgumentError(
        fmt::format("linear layer {}x{}: got {} weights and {} biases", spec.in_features,
                    spec.out_features, weights.size(), bias.size()));
  }
  if (spec.input_type == ElementType::kBF16 && spec.precision != Precision::kBF16) {
    return absl::InvalidArgumentError(
        fmt::format("linear layer {}x{}: bf16 inputs need bf16 precision, not {}", spec.in_features,
                    spec.out_features, PrecisionName(spec.precision)));
  }
  if (spec.output_type == ElementType::kBF16 && spec.epilogue == LinearEpilogue::kAccumulate) {
    return absl::InvalidArgumentError(
        fmt::format("linear layer {}x{}: a residual add needs an fp32 output", spec.in_features,
                    spec.out_features));
  }
  if (spec.input_type == ElementType::kBF16 || spec.output_type == ElementType::kBF16) {
    RETURN_IF_ERROR(CheckHostRuns(Precision::kBF16));  // bf16 activations need native bf16
  }
  std::unique_ptr<Linear> linear(new Linear(runtime, spec));
  linear->activation_after_gemm_ = linear->ChooseActivationAfterGemm();
  try {
    const dnnl::engine& engine = runtime->engine();
    if (!bias.empty()) {
      linear->bias_ = memory({{spec.out_features}, Dt::f32, Tag::a}, engine);
      std::copy(bias.begin(), bias.end(), static_cast<float*>(linear->bias_.get_data_handle()));
    }
    const int layout_rows = spec.typical_rows > 0 ? spec.typical_rows : kLayoutRows;
    if (spec.precision == Precision::kInt8) {
      linear->quantizer_ = std::make_unique<ActivationQuantizer>(runtime, spec.in_features);
      linear->output_scales_ = memory(linear->ChannelsDesc(), engine);
      linear->x_scale_ = memory(XScaleDesc(), engine);
      linear->ChooseInt8Primitive(layout_rows);
      linear->scaled_bias_ = memory(linear->ScaledBiasDesc(), engine);
    }
    ASSIGN_OR_RETURN(auto pd, linear->MakePrimitiveDesc(layout_rows, linear->AnyWeights()));
    if (!shared.empty() && shared[0].desc == pd.weights_desc() &&
        linear->UseSharedWeights(shared).ok()) {
      return linear;
    }
    if (spec.precision == Precision::kInt8) {
      RETURN_IF_ERROR(linear->PackInt8Weights(pd.weights_desc(), weights));
      return linear;
    }
    // Prepack: reorder the PyTorch layout (oihw) into the kernel's preferred layout (and type).
    memory plain({{spec.out_features, spec.in_features, 1, 1}, Dt::f32, Tag::oihw}, engine,
                 const_cast<float*>(weights.data()));
    linear->weights_ = memory(pd.weights_desc(), engine);
    dnnl::reorder(plain, linear->weights_).execute(runtime->stream(), plain, linear->weights_);
    runtime->stream().wait();
  } catch (const dnnl::error& e) {
    return DnnlError(
        e, fmt::format("prepack a {}x{} linear layer", spec.in_features, spec.out_features));
  }
  return linear;
}

Linear::Plan* Linear::FindPlan(int rows) {
  for (Plan& plan : plans_) {
    if (plan.rows == rows) return &plan;
  }
  return nullptr;
}

const Linear::Plan* Linear::FindPlan(int rows) const {
  for (const Plan& plan : plans_) {
    if (plan.rows == rows) return &plan;
  }
  return nullptr;
}

absl::StatusOr<int> Linear::PlanRows(int rows, int groups) const {
  if (rows <= 0 || groups <= 0 || rows % groups != 0) {
    return absl::InvalidArgumentError(
        fmt::format("linear layer: {} rows in {} equal groups", rows, groups));
  }
  return spec_.precision == Precision::kInt8 ? rows / groups : rows;
}

absl::Status Linear::Prepare(int all_rows, int groups) {
  ASSIGN_OR_RETURN(const int rows, PlanRows(all_rows, groups));
  if (FindPlan(rows) != nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto pd, MakePrimitiveDesc(rows, weights_.get_desc()));
  Plan plan;
  plan.rows = rows;
  if (IsReferenceKernel(pd.impl_info_str())) {
    // The packed layout suits the typical row count, not necessarily every one: for some
    // (e.g. brgconv_1x1 on AVX-512 at 197 rows with a layout picked at 256) oneDNN has no fast
    // kernel for it and falls back to its reference one, 1000x slower. Then this row count gets
    // the layout its fast kernel wants, in a copy of the weights (shared by plans that agree).
    ASSIGN_OR_RETURN(auto best, MakePrimitiveDesc(rows, AnyWeights()));
    if (!IsReferenceKernel(best.impl_info_str())) {
      ASSIGN_OR_RETURN(plan.weights, WeightsIn(best.weights_desc()));
      pd = best;
    }
  }
  try {
    plan.primitive = dnnl::primitive(pd);
    plan.src = memory(pd.src_desc(), runtime_->engine(), DNNL_MEMORY_NONE);
    plan.dst = memory(pd.dst_desc(), runtime_->engine(), DNNL_MEMORY_NONE);
    plan.scratchpad = memory(pd.scratchpad_desc(), runtime_->engine(), DNNL_MEMORY_NONE);
    plan.implementation = pd.impl_info_str();
    if (plan.weights) plan.implementation += " (own weight layout)";
    RETURN_IF_ERROR(runtime_->ReserveScratchpad(pd.scratchpad_desc().get_size()));
    if (ActivationAfterGemm() && spec_.precision == Precision::kBF16) {
      RETURN_IF_ERROR(runtime_->ReserveResultStaging(pd.dst_desc().get_size()));
    }
    if (spec_.precision == Precision::kInt8) {
      RETURN_IF_ERROR(quantizer_->Prepare(rows));
      RETURN_IF_ERROR(runtime_->ReserveStaging(pd.src_desc().get_size()));
    } else if (spec_.precision == Precision::kBF16 && spec_.input_type == ElementType::kF32) {
      const memory::desc input = Activations(rows, spec_.in_features);
      const dnnl::reorder::primitive_desc convert_pd(runtime_->engine(), input, runtime_->engine(),
                                                     pd.src_desc(), UserScratchpadAttr());
      plan.convert = dnnl::reorder(convert_pd);
      plan.input = memory(input, runtime_->engine(), DNNL_MEMORY_NONE);
      plan.convert_scratchpad =
          memory(convert_pd.scratchpad_desc(), runtime_->engine(), DNNL_MEMORY_NONE);
      RETURN_IF_ERROR(runtime_->ReserveStaging(pd.src_desc().get_size()));
      RETURN_IF_ERROR(runtime_->ReserveScratchpad(convert_pd.scratchpad_desc().get_size()));
    }
    plans_.push_back(std::move(plan));
  } catch (const dnnl::error& e) {
    return DnnlError(e, fmt::format("create a {}x{} linear layer for {} rows", spec_.in_features,
                                    spec_.out_features, rows));
  }
  return absl::OkStatus();
}

absl::Status Linear::Run(int rows, const float* x, float* y, int groups) {
  return RunTyped(rows, ElementType::kF32, x, ElementType::kF32, y, groups);
}

absl::Status Linear::Run(int rows, const float* x, BFloat16* y, int groups) {
  return RunTyped(rows, ElementType::kF32, x, ElementType::kBF16, y, groups);
}

absl::Status Linear::Run(int rows, const BFloat16* x, float* y, int groups) {
  return RunTyped(rows, ElementType::kBF16, x, ElementType::kF32, y, groups);
}

absl::Status Linear::Run(int rows, const BFloat16* x, BFloat16* y, int groups) {
  return RunTyped(rows, ElementType::kBF16, x, ElementType::kBF16, y, groups);
}

absl::Status Linear::RunTyped(int all_rows, ElementType input, const void* x, ElementType output,
                              void* y, int groups) {
  if (input != spec_.input_type || output != spec_.output_type) {
    return absl::InvalidArgumentError(fmt::format(
        "linear layer {}x{}: called with {} x and {} y, created for {} and {}", spec_.in_features,
        spec_.out_features, ElementTypeName(input), ElementTypeName(output),
        ElementTypeName(spec_.input_type), ElementTypeName(spec_.output_type)));
  }
  ASSIGN_OR_RETURN(const int rows, PlanRows(all_rows, groups));
  Plan* plan = FindPlan(rows);
  if (plan == nullptr) {
    RETURN_IF_ERROR(Prepare(rows));
    plan = FindPlan(rows);
  }
  if (spec_.precision == Precision::kInt8) {  // x is fp32 (Create)
    const size_t group_out_bytes = size_t(rows) * spec_.out_features * ElementSize(output);
    for (int g = 0; g < all_rows / rows; ++g) {
      RETURN_IF_ERROR(RunInt8(*plan,
                              static_cast<const float*>(x) + size_t(g) * rows * spec_.in_features,
                              static_cast<uint8_t*>(y) + g * group_out_bytes));
    }
    if (ActivationAfterGemm()) {  // in place, in fp32
      GeluErf(static_cast<float*>(y), static_cast<float*>(y),
              int64_t{all_rows} * spec_.out_features);
    }
    return absl::OkStatus();
  }
  try {
    // set_data_handle on CPU memory only stores the pointer.
    if (plan->convert) {
      plan->input.set_data_handle(const_cast<void*>(x));
      plan->src.set_data_handle(runtime_->staging());
      plan->convert_scratchpad.set_data_handle(runtime_->scratchpad());
    } else {
      plan->src.set_data_handle(const_cast<void*>(x));
    }
    plan->dst.set_data_handle(ActivationAfterGemm() ? runtime_->result_staging() : y);
    plan->scratchpad.set_data_handle(runtime_->scratchpad());
  } catch (const dnnl::error& e) {
    return DnnlError(e, "bind linear layer buffers");
  }
  if (plan->convert) {
    RETURN_IF_ERROR(Execute(plan->convert, runtime_->stream(),
                            {{DNNL_ARG_FROM, plan->input.get()},
                             {DNNL_ARG_TO, plan->src.get()},
                             {DNNL_ARG_SCRATCHPAD, plan->convert_scratchpad.get()}},
                            "linear layer input conversion"));
  }
  const memory& weights = plan->weights ? plan->weights : weights_;
  // The bias goes last: a layer without one passes one argument fewer.
  const dnnl_exec_arg_t args[] = {
      {DNNL_ARG_SRC, plan->src.get()},
      {DNNL_ARG_WEIGHTS, weights.get()},
      {DNNL_ARG_DST, plan->dst.get()},
      {DNNL_ARG_SCRATCHPAD, plan->scratchpad.get()},
      {DNNL_ARG_BIAS, bias_ ? bias_.get() : nullptr},
  };
  RETURN_IF_ERROR(Execute(plan->primitive, runtime_->stream(),
                          std::span<const dnnl_exec_arg_t>(args, bias_ ? 5 : 4), "linear layer"));
  if (ActivationAfterGemm()) {
    GeluErfToBf16(static_cast<const float*>(runtime_->result_staging()), static_cast<BFloat16*>(y),
                  int64_t{all_rows} * spec_.out_features);
  }
  return absl::OkStatus();
}

size_t Linear::weight_bytes() const {
  size_t bytes = weights_.get_desc().get_size() + (bias_ ? bias_.get_desc().get_size() : 0) +
                 (weight_scales_ ? weight_scales_.get_desc().get_size() : 0);
  for (size_t i = 0; i < plans_.size(); ++i) {
    const memory& w = plans_[i].weights;
    const bool first_of_its_kind =
        w && std::none_of(plans_.begin(), plans_.begin() + i, [&](const Plan& p) {
          return p.weights && p.weights.get_desc() == w.get_desc();
        });
    if (first_of_its_kind) bytes += w.get_desc().get_size();
  }
  return bytes;
}

absl::StatusOr<memory> Linear::WeightsIn(const memory::desc& desc) {
  for (const Plan& plan : plans_) {
    if (plan.weights && plan.weights.get_desc() == desc) return plan.weights;
  }
  try {
    memory copy(desc, runtime_->engine());
    dnnl::reorder(weights_, copy).execute(runtime_->stream(), weights_, copy);
    runtime_->stream().wait();
    return copy;
  } catch (const dnnl::error& e) {
    return DnnlError(
        e, fmt::format("repack a {}x{} linear layer", spec_.in_features, spec_.out_features));
  }
}

std::vector<PackedWeightFile::Tensor> Linear::packed_tensors() const {
  std::vector<PackedWeightFile::Tensor> tensors = {
      {.desc = weights_.get_desc(), .data = weights_.get_data_handle()}};
  if (weight_scales_) {
    tensors.push_back(
        {.desc = weight_scales_.get_desc(), .data = weight_scales_.get_data_handle()});
  }
  return tensors;
}

absl::Status Linear::UseSharedWeights(std::span<const PackedWeightFile::Tensor> shared) {
  const bool int8 = spec_.precision == Precision::kInt8;
  if (shared.size() != size_t(PackedTensorCount(spec_.precision)) ||
      (weights_ && shared[0].desc != weights_.get_desc()) ||
      (int8 && shared[1].desc != ChannelsDesc())) {
    return absl::FailedPreconditionError(
        fmt::format("shared weights of a {}x{} linear layer are in another layout",
                    spec_.in_features, spec_.out_features));
  }
  try {
    // oneDNN never writes a primitive's weights or scales: views of read-only memory are safe.
    weights_ = memory(shared[0].desc, runtime_->engine(), const_cast<void*>(shared[0].data));
    if (int8) {
      weight_scales_ =
          memory(ChannelsDesc(), runtime_->engine(), const_cast<void*>(shared[1].data));
    }
  } catch (const dnnl::error& e) {
    return DnnlError(e, "bind shared linear weights");
  }
  // Another process packed them: their sums (the zero point's term, linear_int8.cc) are ours to
  // make.
  if (int8 && weight_sums_.empty()) RETURN_IF_ERROR(SumPackedWeights());
  shared_ = true;
  return absl::OkStatus();
}

std::string Linear::ImplementationName(int all_rows, int groups) const {
  absl::StatusOr<int> rows = PlanRows(all_rows, groups);
  const Plan* plan = rows.ok() ? FindPlan(*rows) : nullptr;
  return plan == nullptr ? std::string() : plan->implementation;
}

}  // namespace tessera::engine::kernels
