// The ViT / DeiT image classifier's forward pass on oneDNN: CHW pixels in, logits out. In fp32,
// or with the encoder's GEMMs in bf16 or int8 (VitModelOptions::precision: weights packed as
// bfloat16, or quantized to int8 per output channel with activations quantized per call;
// accumulation in fp32 / int32; LayerNorm, softmax, GELU, the residual stream and the classifier
// head compute in fp32). In bf16 the patch embedding's GEMM is bf16 too, and the activations
// between the encoder's kernels are bf16 (the LayerNorms' outputs, the QKV output, attention's
// context, the MLP's hidden layer): each kernel writes what the next one reads, rounded once,
// with no conversions between. In int8 on an AMX host attention runs in bf16 (the QKV GEMM
// writes bf16).
//
//   patches -> patch embedding (GEMM) -> + class (+ distillation) token, + position embeddings
//   -> N pre-norm encoder layers:  h += Attention(LN1(h));  h += MLP(LN2(h))
//        (fused QKV GEMM; per-head softmax attention read in place from the QKV buffer; output
//         projection and second MLP GEMM accumulate into h; the activation fused into the first)
//   -> final LayerNorm on the class (and distillation) token -> classifier head
// The last encoder layer only computes the tokens the head reads (keys and values for all
// tokens, everything else for the class / distillation tokens): the logits are the same, the
// work one layer's worth less.
//
// Contract (Triton's ModelState / ModelInstanceState split, both in one object here):
//  - Load / Create read and prepack every weight once; the config and weights are immutable
//    afterwards.
//  - Forward is NOT re-entrant: it owns the workspace (preallocated for max_batch_size images)
//    and the oneDNN stream. Callers serialize calls (the replica runs one batch at a time); it
//    may be called from any thread, one at a time. It sets that thread's OpenMP thread count.
//  - Forward allocates no buffers once WarmUp (or a first Forward) has run for a batch size: the
//    workspace, primitives and scratchpad are reused. (oneDNN's execute call itself builds a
//    small argument map per primitive, a few tiny heap blocks; its public API has no way out.)
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kernels/aligned_buffer.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/dnnl_runtime.h"
#include "engine/kernels/layer_norm.h"
#include "engine/kernels/linear.h"
#include "engine/kernels/packed_weight_file.h"
#include "engine/kernels/patches.h"
#include "engine/kernels/precision.h"
#include "engine/vit/config.h"
#include "engine/vit/safetensors.h"

namespace tessera::engine {

struct VitModelOptions {
  int num_threads = 0;     // OpenMP threads per Forward; 0 = every CPU this process may use
  int max_batch_size = 8;  // largest batch Forward accepts (sizes the workspace)
  // Non-empty: share the prepacked weights through this file (kernels/packed_weight_file.h):
  // map it when it holds this model's packing, else pack, write it, and map it. Every process
  // given the same path for the same weights then holds one copy in the page cache. Callers key
  // the path by the weights' content (the registry's artifact digest); a fingerprint of the
  // safetensors file guards against a wrong key. Failing to write it is not an error (the model
  // keeps private weights).
  std::filesystem::path packed_weights_path;
  // The encoder GEMMs' precision; a precision this host does not run natively is refused
  // (kernels/precision.h). The packed weight file holds one precision: key its path by it too.
  kernels::Precision precision = kernels::Precision::kF32;
  // How attention is computed (kernels/attention.h); unset: the faster one measured for the
  // precision on this host (docs/performance.md) -- the fused AMX kernel for bf16 where the host
  // has AMX, else the separate one (the fused fp32 kernel has not beaten it on a host yet).
  // bench/run_engine_bench.sh compares them on every run.
  std::optional<kernels::AttentionKernel> attention;
};

class VitModel {
 public:
  // Reads `dir`/config.json and `dir`/model.safetensors.
  static absl::StatusOr<std::unique_ptr<VitModel>> Load(const std::filesystem::path& dir,
                                                        const VitModelOptions& options);
  // Builds the model from a parsed config and a mapped weights file (checked against each
  // other first). `config_source` names the config in errors.
  static absl::StatusOr<std::unique_ptr<VitModel>> Create(const ViTConfig& config,
                                                          const SafetensorsFile& weights,
                                                          const std::string& config_source,
                                                          const VitModelOptions& options);

  const ViTConfig& config() const { return config_; }
  int max_batch_size() const { return options_.max_batch_size; }
  int num_threads() const { return num_threads_; }
  int64_t num_parameters() const { return num_parameters_; }
  // Bytes of prepacked weights and embeddings held in memory.
  size_t weight_bytes() const { return weight_bytes_; }
  // Of those, the bytes mapped from the shared packed weight file (0 without one).
  size_t shared_weight_bytes() const { return shared_weight_bytes_; }
  kernels::Precision precision() const { return options_.precision; }
  // The oneDNN kernel of the encoder's largest GEMM (the first MLP layer) for `batch` images,
  // e.g. "brgconv_1x1:avx512_core_bf16"; empty before WarmUp(batch) or Forward of that size.
  std::string GemmKernel(int batch) const;
  // How attention runs, e.g. "separate(gemm:jit, jit:avx2, gemm:jit)" (kernels/attention.h).
  std::string AttentionImplementation() const {
    return last_attention_.front()->ImplementationName();
  }

  // Creates the oneDNN primitives for `batch` images ahead of the first Forward(batch).
  absl::Status WarmUp(int batch);
  // pixels: [batch][channels][height][width] as the preprocessor makes them;
  // logits: [batch][num_labels]. 1 <= batch <= max_batch_size. Not re-entrant.
  absl::Status Forward(std::span<const float> pixels, int batch, std::span<float> logits);

 private:
  struct EncoderLayer {
    std::unique_ptr<kernels::LayerNorm> norm_before, norm_after;
    std::unique_ptr<kernels::Linear> qkv;               // [3H, H]; all layers but the last
    std::unique_ptr<kernels::Linear> query, key_value;  // [H, H] and [2H, H]; last layer only
    std::unique_ptr<kernels::Linear> attention_output;  // accumulates into the residual
    std::unique_ptr<kernels::Linear> intermediate;      // activation fused
    std::unique_ptr<kernels::Linear> output;            // accumulates into the residual
  };

  VitModel(const ViTConfig& config, const VitModelOptions& options);
  absl::Status LoadWeights(const SafetensorsFile& weights);
  // Writes the packed weights of `linears` to options_.packed_weights_path and switches them to
  // the mapped file (best effort: failures are logged and leave the private copies).
  void ShareWeights(const std::vector<kernels::Linear*>& linears, uint64_t fingerprint);
  absl::Status AllocateWorkspace();
  // A: the element types of the activations between the encoder's kernels (vit_model.cc's
  // Activations: float or kernels::BFloat16 each, as the element types below).
  template <typename A>
  absl::Status RunLayer(const EncoderLayer& layer, int batch);
  template <typename A>
  absl::Status RunLastLayer(const EncoderLayer& layer, int batch);
  template <typename A>
  absl::Status RunEncoder(int batch);
  absl::Status Embed(std::span<const float> pixels, int batch);

  ViTConfig config_;
  VitModelOptions options_;
  int num_threads_;
  int num_query_tokens_;  // tokens of the last layer the head reads (1, or 2 with a teacher)
  // The element types of the activations between the encoder's kernels: the LayerNorms' outputs,
  // the QKV GEMM's (attention's input), attention's, the MLP's hidden layer.
  kernels::ElementType normed_type_ = kernels::ElementType::kF32;
  kernels::ElementType qkv_type_ = kernels::ElementType::kF32;
  kernels::ElementType context_type_ = kernels::ElementType::kF32;
  kernels::ElementType mlp_type_ = kernels::ElementType::kF32;
  kernels::PatchGeometry patch_geometry_;
  int64_t num_parameters_ = 0;
  size_t weight_bytes_ = 0;
  size_t shared_weight_bytes_ = 0;

  // The mapped packed weights the Linear layers below may view (declared first: it outlives them).
  std::unique_ptr<kernels::PackedWeightFile> shared_weights_;

  std::unique_ptr<kernels::DnnlRuntime> runtime_;
  std::unique_ptr<kernels::Linear> patch_embedding_;
  std::vector<float> token_embeddings_;  // [tokens][H]: position embeddings, prefix tokens added
  std::vector<EncoderLayer> layers_;
  // Attention runs on groups of images (one batched matmul over images x heads) sized so the
  // threads get equal shares of heads: [g - 1] serves a group of g images, g <= group size.
  int attention_group_size_ = 1;
  std::vector<std::unique_ptr<kernels::Attention>> attention_;       // all tokens
  std::vector<std::unique_ptr<kernels::Attention>> last_attention_;  // last layer's query tokens
  std::unique_ptr<kernels::LayerNorm> final_norm_;
  std::unique_ptr<kernels::Linear> classifier_;  // input: the final-normed query tokens side by
                                                 // side; for the teacher: both heads, halved

  // Workspace, sized for max_batch_size (see AllocateWorkspace for shapes).
  kernels::AlignedBuffer patches_, patch_out_, hidden_, normed_, qkv_, context_, mlp_, scores_;
  kernels::AlignedBuffer small_hidden_, small_normed_, small_query_, small_context_, small_mlp_;
  kernels::AlignedBuffer head_input_, logits_;  // the final LayerNorm's output, the head's
};

}  // namespace tessera::engine
