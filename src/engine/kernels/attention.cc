#include "engine/kernels/attention.h"

#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera::engine::kernels {

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
  std::unique_ptr<Attention> attention(new Attention(runtime, s));
  const int64_t images = s.num_images, heads = s.num_heads, d = s.head_dim, nq = s.num_queries,
                nk = s.num_keys;
  try {
    const dnnl::engine& engine = runtime->engine();
    // Batched over images x heads: Q [images, heads, nq, d], K^T [images, heads, d, nk],
    // V [images, heads, nk, d], all read in place through strides.
    memory::desc q({images, heads, nq, d}, Dt::f32,
                   memory::dims{s.q_image_stride, d, s.q_row_stride, 1});
    memory::desc k_t({images, heads, d, nk}, Dt::f32,
                     memory::dims{s.k_image_stride, d, 1, s.k_row_stride});
    memory::desc v({images, heads, nk, d}, Dt::f32,
                   memory::dims{s.v_image_stride, d, s.v_row_stride, 1});
    memory::desc out({images, heads, nq, d}, Dt::f32,
                     memory::dims{s.out_image_stride, d, s.out_row_stride, 1});
    memory::desc scores({images, heads, nq, nk}, Dt::f32, Tag::abcd);
    memory::desc scores_2d({images * heads * nq, nk}, Dt::f32, Tag::ab);

    dnnl::primitive_attr scale_attr = UserScratchpadAttr();
    scale_attr.set_output_scales(0, {s.scale});
    dnnl::matmul::primitive_desc scores_pd(dnnl::matmul::desc(q, k_t, scores), scale_attr, engine);
    dnnl::softmax_forward::primitive_desc softmax_pd(
        dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, scores_2d, 1),
        UserScratchpadAttr(), engine);
    dnnl::matmul::primitive_desc context_pd(dnnl::matmul::desc(scores, v, out),
                                            UserScratchpadAttr(), engine);
    attention->scores_matmul_ = dnnl::matmul(scores_pd);
    attention->softmax_ = dnnl::softmax_forward(softmax_pd);
    attention->context_matmul_ = dnnl::matmul(context_pd);
    attention->q_ = memory(q, engine, DNNL_MEMORY_NONE);
    attention->k_t_ = memory(k_t, engine, DNNL_MEMORY_NONE);
    attention->v_ = memory(v, engine, DNNL_MEMORY_NONE);
    attention->out_ = memory(out, engine, DNNL_MEMORY_NONE);
    attention->scores_ = memory(scores, engine, DNNL_MEMORY_NONE);
    attention->scores_2d_ = memory(scores_2d, engine, DNNL_MEMORY_NONE);
    attention->scratch_scores_ = memory(scores_pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    attention->scratch_softmax_ = memory(softmax_pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    attention->scratch_context_ = memory(context_pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    for (const auto& desc : {scores_pd.scratchpad_desc(), softmax_pd.scratchpad_desc(),
                             context_pd.scratchpad_desc()}) {
      RETURN_IF_ERROR(runtime->ReserveScratchpad(desc.get_size()));
    }
  } catch (const dnnl::error& e) {
    return DnnlError(
        e, fmt::format("create attention ({} heads x {}, {} queries, {} keys)", heads, d, nq, nk));
  }
  return attention;
}

absl::Status Attention::Run(const float* q, const float* k, const float* v, float* out,
                            float* scores) {
  void* scratch = runtime_->scratchpad();
  try {
    q_.set_data_handle(const_cast<float*>(q));
    k_t_.set_data_handle(const_cast<float*>(k));
    v_.set_data_handle(const_cast<float*>(v));
    out_.set_data_handle(out);
    scores_.set_data_handle(scores);
    scores_2d_.set_data_handle(scores);
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
                           {DNNL_ARG_DST, scores_2d_.get()},
                           {DNNL_ARG_SCRATCHPAD, scratch_softmax_.get()}},
                          "attention softmax"));
  return Execute(context_matmul_, stream,
                 {{DNNL_ARG_SRC, scores_.get()},
                  {DNNL_ARG_WEIGHTS, v_.get()},
                  {DNNL_ARG_DST, out_.get()},
                  {DNNL_ARG_SCRATCHPAD, scratch_context_.get()}},
                 "attention context");
}

}  // namespace tessera::engine::kernels
