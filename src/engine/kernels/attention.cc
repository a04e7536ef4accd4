#include "engine/kernels/attention.h"

#include <omp.h>

#include <algorithm>
#include <atomic>

#include "common/status_macros.h"
#include "engine/kernels/attention_amx.h"
#include "engine/kernels/precision.h"
#include "engine/kernels/softmax.h"
#include "fmt/format.h"

// The fused kernel calls sgemm inside its own OpenMP region, where an OpenMP oneDNN runs it on
// the calling thread; a TBB one would start its own threads in every task.
static_assert(DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP, "the fused attention needs OpenMP");

namespace tessera::engine::kernels {

const char* AttentionKernelName(AttentionKernel kernel) {
  return kernel == AttentionKernel::kFused ? "fused" : "separate";
}

using dnnl::memory;
using Dt = dnnl::memory::data_type;
using Tag = dnnl::memory::format_tag;

absl::StatusOr<std::unique_ptr<Attention>> Attention::Create(DnnlRuntime* runtime,
                                                             const AttentionSpec& spec) {
  const int64_t width = int64_t{spec.num_heads} * spec.head_dim;
  if (spec.num_images <= 0 || spec.num_heads <= 0 || spec.head_dim <= 0 || spec.num_queries <= 0 ||
      spec.num_keys <= 0 || spec.q_row_stride < width || spec.k_row_stride < width ||
      spec.v_row_stride < width || spec.out_row_stride < width) {
    return absl::InvalidArgumentError(
        fmt::format("attention: invalid shape (heads {}, head dim {}, queries {}, keys {}, strides "
                    "{}/{}/{}/{})",
                    spec.num_heads, spec.head_dim, spec.num_queries, spec.num_keys,
                    spec.q_row_stride, spec.k_row_stride, spec.v_row_stride, spec.out_row_stride));
  }
  AttentionSpec s = spec;
  if (s.num_images == 1) {  // any valid stride will do for a single image
    s.q_image_stride = s.q_row_stride * s.num_queries;
    s.k_image_stride = s.k_row_stride * s.num_keys;
    s.v_image_stride = s.v_row_stride * s.num_keys;
    s.out_image_stride = s.out_row_stride * s.num_queries;
  }
  if (spec.kernel == AttentionKernel::kFused && spec.num_threads <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("attention: fused kernel needs a thread count, got {}", spec.num_threads));
  }
  if (spec.input_type == ElementType::kF32 && spec.output_type == ElementType::kBF16) {
    return absl::InvalidArgumentError("attention: fp32 inputs with a bf16 output");
  }
  if (spec.input_type == ElementType::kBF16) RETURN_IF_ERROR(CheckHostRuns(Precision::kBF16));
  std::unique_ptr<Attention> attention(new Attention(runtime, s));
  if (s.kernel == AttentionKernel::kSeparate) {
    RETURN_IF_ERROR(attention->CreateSeparate());
    return attention;
  }
  if (s.input_type == ElementType::kBF16) {
    RETURN_IF_ERROR(attention->CreateAmx());
    return attention;
  }
  // Query blocks of at most kMaxBlockRows, sizes differing by at most one (197 queries: 50, 49,
  // 49, 49).
  constexpr int kMaxBlockRows = 64;
  attention->query_blocks_ = (s.num_queries + kMaxBlockRows - 1) / kMaxBlockRows;
  attention->block_rows_ =
      (s.num_queries + attention->query_blocks_ - 1) / attention->query_blocks_;
  // Rows padded to 16 floats (a cache line) so that threads' blocks never share one.
  attention->block_stride_ = (int64_t{s.num_keys} + 15) / 16 * 16;
  attention->thread_scores_ = attention->block_stride_ * attention->block_rows_;
  return attention;
}

absl::Status Attention::CreateAmx() {
  const AttentionSpec& s = spec_;
  if (!AmxBf16Available()) {
    return absl::FailedPreconditionError(
        "attention: the fused bf16 kernel needs AMX (this host has none; use the separate one)");
  }
  const AmxHeadShape shape{s.num_queries, s.num_keys, s.head_dim, s.scale};
  RETURN_IF_ERROR(CheckAmxHeadShape(shape));
  if (s.k_row_stride % 2 != 0 || s.k_image_stride % 2 != 0) {
    return absl::InvalidArgumentError("attention: the AMX kernel needs even K strides");
  }
  thread_scores_ = static_cast<int64_t>(AmxAttentionScratchBytes(shape) / sizeof(float));
  // Enough parts per head for two tasks per thread, in whole 32-query blocks.
  constexpr int kBlock = 32;
  const int blocks = (s.num_queries + kBlock - 1) / kBlock;
  const int64_t heads = int64_t{s.num_images} * s.num_heads;
  head_parts_ = static_cast<int>(
      std::clamp<int64_t>((2 * int64_t{s.num_threads} + heads - 1) / heads, 1, blocks));
  part_queries_ = (blocks + head_parts_ - 1) / head_parts_ * kBlock;
  head_parts_ = (s.num_queries + part_queries_ - 1) / part_queries_;
  return absl::OkStatus();
}

size_t Attention::scores_size() const {
  if (spec_.kernel == AttentionKernel::kFused) {
    return size_t(spec_.num_threads) * size_t(thread_scores_);
  }
  const size_t scores = size_t(spec_.num_images) * size_t(spec_.num_heads) *
                        size_t(spec_.num_queries) * size_t(spec_.num_keys);
  // bf16: the probabilities (half a float each) after the scores.
  return spec_.input_type == ElementType::kBF16 ? probabilities_offset_ + (scores + 1) / 2 : scores;
}

std::string Attention::ImplementationName() const {
  if (spec_.kernel == AttentionKernel::kFused) {
    if (spec_.input_type == ElementType::kBF16) return "fused(amx bf16)";
    return fmt::format("fused(sgemm, softmax {})", SoftmaxImplementationName());
  }
  return fmt::format("separate({})", separate_kernels_);
}

absl::Status Attention::CreateSeparate() {
  const AttentionSpec& s = spec_;
  const int64_t images = s.num_images, heads = s.num_heads, d = s.head_dim, nq = s.num_queries,
                nk = s.num_keys;
  try {
    const dnnl::engine& engine = runtime_->engine();
    // Batched over images x heads: Q [images, heads, nq, d], K^T [images, heads, d, nk],
    // V [images, heads, nk, d], all read in place through strides.
    const Dt in = DnnlDataType(s.input_type);
    memory::desc q({images, heads, nq, d}, in,
                   memory::dims{s.q_image_stride, d, s.q_row_stride, 1});
    memory::desc k_t({images, heads, d, nk}, in,
                     memory::dims{s.k_image_stride, d, 1, s.k_row_stride});
    memory::desc v({images, heads, nk, d}, in,
                   memory::dims{s.v_image_stride, d, s.v_row_stride, 1});
    memory::desc out({images, heads, nq, d}, DnnlDataType(s.output_type),
                     memory::dims{s.out_image_stride, d, s.out_row_stride, 1});
    memory::desc scores({images, heads, nq, nk}, Dt::f32, Tag::abcd);
    memory::desc scores_2d({images * heads * nq, nk}, Dt::f32, Tag::ab);
    // The context matmul's input: the scores softmaxed in place (fp32), or into bf16
    // probabilities after them (softmax_v2 converts on the way out).
    memory::desc probabilities({images, heads, nq, nk}, in, Tag::abcd);
    memory::desc probabilities_2d({images * heads * nq, nk}, in, Tag::ab);
    // 16 floats: the probabilities start on a cache line.
    probabilities_offset_ = (scores.get_size() / sizeof(float) + 15) / 16 * 16;

    dnnl::primitive_attr scale_attr = UserScratchpadAttr();
    scale_attr.set_output_scales(0, {s.scale});
    dnnl::matmul::primitive_desc scores_pd(dnnl::matmul::desc(q, k_t, scores), scale_attr, engine);
    dnnl::softmax_v2_forward::primitive_desc softmax_pd(
        dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_inference,
                                       dnnl::algorithm::softmax_accurate, scores_2d,
                                       probabilities_2d, 1),
        UserScratchpadAttr(), engine);
    dnnl::matmul::primitive_desc context_pd(dnnl::matmul::desc(probabilities, v, out),
                                            UserScratchpadAttr(), engine);
    separate_kernels_ = fmt::format("{}, {}, {}", scores_pd.impl_info_str(),
                                    softmax_pd.impl_info_str(), context_pd.impl_info_str());
    scores_matmul_ = dnnl::matmul(scores_pd);
    softmax_ = dnnl::softmax_v2_forward(softmax_pd);
    context_matmul_ = dnnl::matmul(context_pd);
    q_ = memory(q, engine, DNNL_MEMORY_NONE);
    k_t_ = memory(k_t, engine, DNNL_MEMORY_NONE);
    v_ = memory(v, engine, DNNL_MEMORY_NONE);
    out_ = memory(out, engine, DNNL_MEMORY_NONE);
    scores_ = memory(scores, engine, DNNL_MEMORY_NONE);
    scores_2d_ = memory(scores_2d, engine, DNNL_MEMORY_NONE);
    probabilities_ = memory(probabilities, engine, DNNL_MEMORY_NONE);
    probabilities_2d_ = memory(probabilities_2d, engine, DNNL_MEMORY_NONE);
    scratch_scores_ = memory(scores_pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    scratch_softmax_ = memory(softmax_pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    scratch_context_ = memory(context_pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    for (const auto& desc : {scores_pd.scratchpad_desc(), softmax_pd.scratchpad_desc(),
                             context_pd.scratchpad_desc()}) {
      RETURN_IF_ERROR(runtime_->ReserveScratchpad(desc.get_size()));
    }
  } catch (const dnnl::error& e) {
    return DnnlError(
        e, fmt::format("create attention ({} heads x {}, {} queries, {} keys)", heads, d, nq, nk));
  }
  return absl::OkStatus();
}

absl::Status Attention::Run(const float* q, const float* k, const float* v, float* out,
                            float* scores) {
  return RunTyped(ElementType::kF32, q, k, v, ElementType::kF32, out, scores);
}

absl::Status Attention::Run(const BFloat16* q, const BFloat16* k, const BFloat16* v, float* out,
                            float* scores) {
  return RunTyped(ElementType::kBF16, q, k, v, ElementType::kF32, out, scores);
}

absl::Status Attention::Run(const BFloat16* q, const BFloat16* k, const BFloat16* v, BFloat16* out,
                            float* scores) {
  return RunTyped(ElementType::kBF16, q, k, v, ElementType::kBF16, out, scores);
}

absl::Status Attention::RunTyped(ElementType input, const void* q, const void* k, const void* v,
                                 ElementType output, void* out, float* scores) {
  if (input != spec_.input_type || output != spec_.output_type) {
    return absl::InvalidArgumentError(
        fmt::format("attention: called with {} inputs and a {} output, created for {} and {}",
                    ElementTypeName(input), ElementTypeName(output),
                    ElementTypeName(spec_.input_type), ElementTypeName(spec_.output_type)));
  }
  if (spec_.kernel == AttentionKernel::kSeparate) return RunSeparate(q, k, v, out, scores);
  if (input == ElementType::kBF16) {
    RunAmx(static_cast<const BFloat16*>(q), static_cast<const BFloat16*>(k),
           static_cast<const BFloat16*>(v), out, scores);
    return absl::OkStatus();
  }
  return RunFused(static_cast<const float*>(q), static_cast<const float*>(k),
                  static_cast<const float*>(v), static_cast<float*>(out), scores);
}

void Attention::RunAmx(const BFloat16* q, const BFloat16* k, const BFloat16* v, void* out,
                       float* scores) const {
  const AttentionSpec& s = spec_;
  const AmxHeadShape shape{s.num_queries, s.num_keys, s.head_dim, s.scale};
  const int64_t parts = head_parts_, tasks = int64_t{s.num_images} * s.num_heads * parts;
  const bool bf16_out = s.output_type == ElementType::kBF16;
#pragma omp parallel num_threads(s.num_threads)
  {
    const AmxTiles tiles;  // per thread
    void* scratch = scores + omp_get_thread_num() * thread_scores_;
    int64_t packed = -1;  // the (image, head) whose K and V this thread's scratch holds
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t part = task % parts, head = task / parts % s.num_heads,
                    image = task / parts / s.num_heads;
      // Parts of one head are consecutive tasks: a thread given several packs K and V once.
      const bool keys_values_packed = packed == task / parts;
      packed = task / parts;
      const int64_t column = head * s.head_dim;
      const AmxHeadOperands operands{.q = q + image * s.q_image_stride + column,
                                     .k = k + image * s.k_image_stride + column,
                                     .v = v + image * s.v_image_stride + column,
                                     .q_stride = s.q_row_stride,
                                     .k_stride = s.k_row_stride,
                                     .v_stride = s.v_row_stride,
                                     .out_stride = s.out_row_stride,
                                     .query_begin = static_cast<int>(part * part_queries_),
                                     .query_end = static_cast<int>(std::min<int64_t>(
                                         (part + 1) * part_queries_, s.num_queries)),
                                     .keys_values_packed = keys_values_packed};
      const int64_t out_offset = image * s.out_image_stride + column;
      if (bf16_out) {
        AmxAttentionHead(shape, operands, static_cast<BFloat16*>(out) + out_offset, scratch);
      } else {
        AmxAttentionHead(shape, operands, static_cast<float*>(out) + out_offset, scratch);
      }
    }
  }
}

absl::Status Attention::RunFused(const float* q, const float* k, const float* v, float* out,
                                 float* scores) const {
  const AttentionSpec& s = spec_;
  const int64_t blocks = query_blocks_, tasks = int64_t{s.num_images} * s.num_heads * blocks;
  // dnnl_sgemm fails on bad arguments (Create checked them) or out of memory for its packing
  // buffers; the first failure is kept.
  std::atomic<int> failure{dnnl_success};
  // sgemm inside a parallel region runs on its calling thread (oneDNN does not nest).
#pragma omp parallel for schedule(static) num_threads(s.num_threads)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t block = task % blocks, head = task / blocks % s.num_heads,
                  image = task / blocks / s.num_heads;
    // The first num_queries % blocks blocks take one query more.
    const int64_t base = s.num_queries / blocks, extra = s.num_queries % blocks;
    const int64_t row0 = block * base + std::min(block, extra), rows = base + (block < extra);
    const int64_t column = head * s.head_dim;
    float* block_scores = scores + omp_get_thread_num() * thread_scores_;
    const float* q_block = q + image * s.q_image_stride + row0 * s.q_row_stride + column;
    const float* k_head = k + image * s.k_image_stride + column;
    const float* v_head = v + image * s.v_image_stride + column;
    float* out_block = out + image * s.out_image_stride + row0 * s.out_row_stride + column;
    // Row-major: scores [rows][keys] = scale * Q_block [rows][d] x K_head^T.
    dnnl_status_t status =
        dnnl_sgemm('N', 'T', rows, s.num_keys, s.head_dim, s.scale, q_block, s.q_row_stride, k_head,
                   s.k_row_stride, 0.f, block_scores, block_stride_);
    if (status == dnnl_success) {
      SoftmaxRows(block_scores, rows, s.num_keys, block_stride_);
      status = dnnl_sgemm('N', 'N', rows, s.head_dim, s.num_keys, 1.f, block_scores, block_stride_,
                          v_head, s.v_row_stride, 0.f, out_block, s.out_row_stride);
    }
    if (status != dnnl_success) {
      int expected = dnnl_success;
      failure.compare_exchange_strong(expected, status);
    }
  }
  if (failure.load() != dnnl_success) {
    return absl::InternalError(
        fmt::format("attention: oneDNN sgemm failed (status {})", failure.load()));
  }
  return absl::OkStatus();
}

absl::Status Attention::RunSeparate(const void* q, const void* k, const void* v, void* out,
                                    float* scores) {
  void* scratch = runtime_->scratchpad();
  // fp32: softmax in place; bf16: into the probabilities after the scores.
  float* probabilities =
      spec_.input_type == ElementType::kBF16 ? scores + probabilities_offset_ : scores;
  try {
    q_.set_data_handle(const_cast<void*>(q));
    k_t_.set_data_handle(const_cast<void*>(k));
    v_.set_data_handle(const_cast<void*>(v));
    out_.set_data_handle(out);
    scores_.set_data_handle(scores);
    scores_2d_.set_data_handle(scores);
    probabilities_.set_data_handle(probabilities);
    probabilities_2d_.set_data_handle(probabilities);
    scratch_scores_.set_data_handle(scratch);
    scratch_softmax_.set_data_handle(scratch);
    scratch_context_.set_data_handle(scratch);
  } catch (const dnnl::error& e) {
    return DnnlError(e, "bind attention buffers");
  }
  const dnnl::stream& stream = runtime_->stream();
  RETURN_IF_ERROR(Execute(scores_matmul_, stream,
                          {{DNNL_ARG_SRC, q_.get()},
                           {DNNL_ARG_WEIGHTS, k_t_.get()},
                           {DNNL_ARG_DST, scores_.get()},
                           {DNNL_ARG_SCRATCHPAD, scratch_scores_.get()}},
                          "attention scores"));
  RETURN_IF_ERROR(Execute(softmax_, stream,
                          {{DNNL_ARG_SRC, scores_2d_.get()},
                           {DNNL_ARG_DST, probabilities_2d_.get()},
                           {DNNL_ARG_SCRATCHPAD, scratch_softmax_.get()}},
                          "attention softmax"));
  return Execute(context_matmul_, stream,
                 {{DNNL_ARG_SRC, probabilities_.get()},
                  {DNNL_ARG_WEIGHTS, v_.get()},
                  {DNNL_ARG_DST, out_.get()},
                  {DNNL_ARG_SCRATCHPAD, scratch_context_.get()}},
                 "attention context");
}

}  // namespace tessera::engine::kernels
