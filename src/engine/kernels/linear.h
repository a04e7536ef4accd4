// A fully connected layer over rows of tokens, y = act(x W^T + b) [+ y], on oneDNN: a 1x1
// convolution over a row-major [rows][features] tensor (oneDNN's fastest fp32 kernel on AVX2,
// jit_1x1), with the activation fused as an eltwise post-op and a residual add fused as a sum
// post-op. The weights are reordered once, at Create, into the layout the kernel prefers.
//
// In bf16 (LinearSpec::precision) the weights are packed as bfloat16 and each Run converts x to
// bfloat16 (a reorder into the runtime's staging buffer) before the GEMM -- unless x is bf16
// already (LinearSpec::input_type); the GEMM accumulates in fp32, and the bias, the activation
// and the residual add are fp32. y is fp32, or bf16 where LinearSpec::output_type says so (the
// next layer's input, written by the GEMM itself -- except after GELU (erf), which Tessera's
// own pass applies to the GEMM's fp32 result on its way to bf16: kernels/gelu.h).
//
// In int8 the weights are quantized per output channel at Create; each Run quantizes x to uint8
// (kernels/quantize.h: per group of rows, i.e. per image) into the staging buffer; the GEMM -- an
// int8 1x1 convolution, or a matmul where the host has no fast convolution for it -- accumulates
// in int32, scaled back to fp32 before the activation and residual add (linear_int8.cc).
//
// Contract: Create and Prepare allocate (call them at load / warm-up); Run allocates no buffers
// once Prepare(rows) has run for that row count (Run prepares on first use). Not re-entrant:
// one Run at a time per Linear (they share the runtime's stream and scratchpad). Call from the
// thread whose OpenMP thread count is set (kernels::SetThreads).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kernels/bfloat16.h"
#include "engine/kernels/dnnl_runtime.h"
#include "engine/kernels/packed_weight_file.h"
#include "engine/kernels/precision.h"
#include "engine/kernels/quantize.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace tessera::engine::kernels {

// An elementwise function fused after a GEMM.
enum class Eltwise {
  kNone,
  kGeluErf,   // 0.5 x (1 + erf(x / sqrt 2))
  kGeluTanh,  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
  kRelu,      // max(x, 0)
  kSilu,      // x sigmoid(x)
};

// Which fused epilogue follows x W^T + b.
enum class LinearEpilogue {
  kStore,       // y = x W^T + b
  kAccumulate,  // y += x W^T + b (a residual connection, y holds the residual on entry)
};

struct LinearSpec {
  int in_features = 0;
  int out_features = 0;
  Eltwise activation = Eltwise::kNone;  // applied before the epilogue
  LinearEpilogue epilogue = LinearEpilogue::kStore;
  // The row count the layer mostly runs at (a ViT's token count): the weights are packed in the
  // layout oneDNN's fastest kernel wants for it. 0: a generic 256.
  int typical_rows = 0;
  // The GEMM's inputs (the caller checks the host runs it natively: CheckHostRuns).
  Precision precision = Precision::kF32;
  // x's and y's element types. bf16 x only in bf16 precision; bf16 y not with kAccumulate (the
  // residual stream stays fp32).
  ElementType input_type = ElementType::kF32;
  ElementType output_type = ElementType::kF32;
};

class Linear {
 public:
  // `weights` is row-major [out_features][in_features] (PyTorch's nn.Linear layout); `bias` has
  // out_features values, or is empty for no bias. Both are copied (prepacked).
  // `shared`, when given (PackedTensorCount tensors) and in the very layout this layer chooses,
  // is used instead of packing `weights` (another process's packing of the same weights, in a
  // mapped PackedWeightFile; it must outlive the Linear); otherwise it is ignored.
  static absl::StatusOr<std::unique_ptr<Linear>> Create(
      DnnlRuntime* runtime, const LinearSpec& spec, std::span<const float> weights,
      std::span<const float> bias, std::span<const PackedWeightFile::Tensor> shared = {});
  // How many tensors a layer of `precision` packs: the weights, and in int8 their scales.
  static int PackedTensorCount(Precision precision) {
    return precision == Precision::kInt8 ? 2 : 1;
  }

  // `groups`: the rows are that many equal, independent groups (a batch's images). int8
  // quantizes each group on its own -- its scale and zero point come from its rows only -- so
  // an image's result never depends on what it was batched with; fp32 and bf16 are row-wise
  // independent anyway and ignore it. rows must be a multiple of groups.

  // Creates the primitive for `rows` rows (allocates, reserves scratchpad). Idempotent.
  absl::Status Prepare(int rows, int groups = 1);
  // y[rows][out_features] = epilogue(act(x[rows][in_features] W^T + b)). x and y are dense
  // row-major and must not overlap. The overload must match the spec's element types
  // (INVALID_ARGUMENT otherwise).
  absl::Status Run(int rows, const float* x, float* y, int groups = 1);
  absl::Status Run(int rows, const float* x, BFloat16* y, int groups = 1);
  absl::Status Run(int rows, const BFloat16* x, float* y, int groups = 1);
  absl::Status Run(int rows, const BFloat16* x, BFloat16* y, int groups = 1);

  const LinearSpec& spec() const { return spec_; }
  size_t weight_bytes() const;
  // The packed tensors (PackedTensorCount of them), for PackedWeightFile::Write.
  std::vector<PackedWeightFile::Tensor> packed_tensors() const;
  // True when the weights are `shared` ones (Create or UseSharedWeights), not a private copy.
  bool uses_shared_weights() const { return shared_; }
  // Switches to `shared` (packed_tensors()'s count and layouts required, else
  // FAILED_PRECONDITION) and frees the private copy. The data must outlive the Linear.
  absl::Status UseSharedWeights(std::span<const PackedWeightFile::Tensor> shared);
  // The oneDNN implementation chosen for `rows` (after Prepare), e.g. "jit_1x1:avx2".
  std::string ImplementationName(int rows, int groups = 1) const;

 private:
  struct Plan {
    int rows = 0;
    dnnl::primitive primitive;
    dnnl::memory src, dst, scratchpad;
    // bf16 only: x (fp32, `input`) converted into `src` (bf16, in the runtime's staging buffer).
    // (int8 quantizes x into `src` with quantizer_ instead.)
    dnnl::primitive convert;
    dnnl::memory input, convert_scratchpad;
    // Empty: weights_. Else a copy in the layout the kernel for `rows` needs (see Prepare).
    dnnl::memory weights;
    std::string implementation;
  };
  Linear(DnnlRuntime* runtime, const LinearSpec& spec) : runtime_(runtime), spec_(spec) {}
  absl::StatusOr<dnnl::primitive_desc> MakePrimitiveDesc(
      int rows, const dnnl::memory::desc& weights_desc) const;
  // The fused epilogue: [x's scale (int8 convolution: a runtime scalar, XScaleDesc),] activation
  // [, residual sum].
  dnnl::post_ops PostOps(bool scale_by_x = false) const;
  dnnl::memory::desc AnyWeights() const;
  // True when the activation is not fused into the GEMM but applied by kernels/gelu.h to its fp32
  // result: in bf16 on the way from the runtime's result staging to bf16 y, in int8 in place in
  // fp32 y (where the host has AVX-512; oneDNN's fused GELU elsewhere).
  bool ActivationAfterGemm() const { return activation_after_gemm_; }
  // What ActivationAfterGemm returns, decided once at Create.
  bool ChooseActivationAfterGemm() const;
  // y's oneDNN data type.
  dnnl::memory::data_type OutputType() const { return DnnlDataType(spec_.output_type); }
  // int8 (linear_int8.cc): the convolution or matmul, the weights quantized and packed, a Run.
  absl::StatusOr<dnnl::primitive_desc> MakeInt8PrimitiveDesc(
      int rows, const dnnl::memory::desc& weights_desc) const;
  // Sets int8_convolution_: the convolution unless oneDNN has only its reference one for it.
  void ChooseInt8Primitive(int rows);
  // The int8 weights' logical shape in `tag`: [out][in][1][1] or the matmul's [in][out].
  dnnl::memory::desc Int8Weights(dnnl::memory::format_tag tag) const;
  // One fp32 value per output channel, [out]: the weights' scales, each Run's output scales,
  // the convolution's bias.
  dnnl::memory::desc ChannelsDesc() const {
    return dnnl::memory::desc({spec_.out_features}, dnnl::memory::data_type::f32,
                              dnnl::memory::format_tag::a);
  }
  // The convolution's bias is [out], the matmul's [1][out].
  dnnl::memory::desc ScaledBiasDesc() const {
    return int8_convolution_
               ? ChannelsDesc()
               : dnnl::memory::desc({1, spec_.out_features}, dnnl::memory::data_type::f32,
                                    dnnl::memory::format_tag::ab);
  }
  static dnnl::memory::desc XScaleDesc() {
    return dnnl::memory::desc({1, 1, 1, 1}, dnnl::memory::data_type::f32,
                              dnnl::memory::format_tag::nchw);
  }
  absl::Status PackInt8Weights(const dnnl::memory::desc& packed, std::span<const float> weights);
  // weight_sums_ from the quantized weights in PyTorch's layout, or from the packed ones.
  void SumWeights(std::span<const int8_t> values);
  absl::Status SumPackedWeights();
  absl::Status RunTyped(int rows, ElementType input, const void* x, ElementType output, void* y,
                        int groups);
  absl::Status RunInt8(Plan& plan, const float* x, void* y);
  // The rows one primitive runs for `rows` in `groups` (int8: one group's; else all).
  absl::StatusOr<int> PlanRows(int rows, int groups) const;
  // The weights in `desc`'s layout: a plan's existing copy, or a new one reordered from weights_.
  absl::StatusOr<dnnl::memory> WeightsIn(const dnnl::memory::desc& desc);
  Plan* FindPlan(int rows);
  const Plan* FindPlan(int rows) const;

  DnnlRuntime* runtime_;  // not owned; outlives this
  LinearSpec spec_;
  dnnl::memory weights_;  // prepacked: owned, or a view of shared (read-only) memory
  bool shared_ = false;
  dnnl::memory bias_;  // empty when there is no bias
  std::vector<Plan> plans_;
  // int8 only: the weights' per-channel scales ([out_features] fp32, owned or shared like the
  // weights), each Run's output scales (x's scale times them). scaled_bias_ is each Run's bias
  // divided by its output scales less x's zero point times weight_sums_ (see RunInt8; present
  // with or without a bias); x_scale_ the convolution's runtime scalar.
  dnnl::memory weight_scales_, output_scales_, scaled_bias_, x_scale_;
  std::vector<int32_t> weight_sums_;  // [out_features]: each output channel's quantized weights
  bool int8_convolution_ = false;
  bool activation_after_gemm_ = false;
  std::unique_ptr<ActivationQuantizer> quantizer_;
};

}  // namespace tessera::engine::kernels
