#include "engine/vit/vit_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <numeric>
#include <type_traits>

#include "common/status_macros.h"
#include "engine/kernels/attention_amx.h"
#include "engine/vit/weights.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::engine {
namespace {

using kernels::BFloat16;
using kernels::ElementType;
using kernels::Linear;
using kernels::LinearEpilogue;
using kernels::LinearSpec;

template <typename T>
constexpr ElementType TypeOf() {
  return std::is_same_v<T, BFloat16> ? ElementType::kBF16 : ElementType::kF32;
}

// The element types VitModel::RunLayer runs with (see normed_type_ and the others).
template <typename NormedT, typename QkvT, typename ContextT, typename MlpT>
struct Activations {
  using Normed = NormedT;
  using Qkv = QkvT;
  using Context = ContextT;
  using Mlp = MlpT;
};
using F32Activations = Activations<float, float, float, float>;
using Bf16Activations = Activations<BFloat16, BFloat16, BFloat16, BFloat16>;
// int8 on AMX: attention in bf16, the int8 GEMMs' inputs (quantized per call) in fp32.
using Int8AmxActivations = Activations<float, BFloat16, float, float>;

kernels::Eltwise ToEltwise(Activation activation) {
  switch (activation) {
    case Activation::kGeluErf:
      return kernels::Eltwise::kGeluErf;
    case Activation::kGeluTanh:
      return kernels::Eltwise::kGeluTanh;
    case Activation::kRelu:
      return kernels::Eltwise::kRelu;
    case Activation::kSilu:
      return kernels::Eltwise::kSilu;
  }
  return kernels::Eltwise::kNone;
}

std::vector<float> Copy(std::span<const float> values) {
  return std::vector<float>(values.begin(), values.end());
}

// Copies `rows` rows of `width` elements, row r from src + r * src_stride.
template <typename T>
void GatherRows(const T* src, int64_t src_stride, int rows, int64_t width, T* dst) {
  for (int r = 0; r < rows; ++r) {
    std::memcpy(static_cast<void*>(dst + r * width), src + r * src_stride, sizeof(T) * width);
  }
}

// Identifies the source weights of a packed file: the tensor table (names, shapes, sizes) and
// about one byte per 64 KiB of each tensor's data (FNV-1a). Not a content hash -- callers key the
// file by one -- but enough to refuse a file packed from other weights behind a wrong key.
uint64_t WeightsFingerprint(const SafetensorsFile& file) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](const void* data, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      hash = (hash ^ static_cast<const uint8_t*>(data)[i]) * 1099511628211ull;
    }
  };
  for (const TensorInfo& t : file.header().tensors()) {
    mix(t.name.data(), t.name.size());
    const std::span<const uint8_t> bytes = file.Bytes(t);
    const uint64_t size = bytes.size();
    mix(&size, sizeof(size));
    mix(t.shape.data(), t.shape.size() * sizeof(t.shape[0]));
    // Samples in proportion to the tensor's size (at least one byte of each non-empty tensor).
    const size_t samples = std::min<size_t>(bytes.size(), 1 + bytes.size() / 65536);
    for (size_t i = 0; i < samples; ++i) mix(&bytes[i * (bytes.size() / samples)], 1);
  }
  return hash;
}

}  // namespace

VitModel::VitModel(const ViTConfig& config, const VitModelOptions& options)
    : config_(config),
      options_(options),
      num_threads_(options.num_threads > 0 ? options.num_threads : kernels::DefaultThreadCount()),
      num_query_tokens_(config.architecture == VitArchitecture::kDeiTWithTeacher ? 2 : 1) {
  patch_geometry_.channels = config.num_channels;
  patch_geometry_.image_height = config.image_height;
  patch_geometry_.image_width = config.image_width;
  patch_geometry_.patch_height = config.patch_height;
  patch_geometry_.patch_width = config.patch_width;
  if (options.precision == kernels::Precision::kBF16) {
    normed_type_ = qkv_type_ = context_type_ = mlp_type_ = ElementType::kBF16;
  } else if (options.precision == kernels::Precision::kInt8 && kernels::AmxBf16Available()) {
    // Attention in bf16 on the tiles instead of fp32 (whose matmuls would take as long as the
    // int8 GEMMs there): the QKV GEMM writes bf16; the int8 GEMMs quantize fp32 inputs.
    qkv_type_ = ElementType::kBF16;
  }
}

absl::StatusOr<std::unique_ptr<VitModel>> VitModel::Load(const std::filesystem::path& dir,
                                                         const VitModelOptions& options) {
  const std::filesystem::path config_path = dir / "config.json";
  ASSIGN_OR_RETURN(ViTConfig config, LoadViTConfig(config_path));
  ASSIGN_OR_RETURN(auto weights, SafetensorsFile::Open(dir / "model.safetensors"));
  return Create(config, *weights, config_path.string(), options);
}

absl::StatusOr<std::unique_ptr<VitModel>> VitModel::Create(const ViTConfig& config,
                                                           const SafetensorsFile& weights,
                                                           const std::string& config_source,
                                                           const VitModelOptions& options) {
  if (options.max_batch_size < 1 || options.max_batch_size > 4096) {
    return absl::InvalidArgumentError(
        fmt::format("max_batch_size {} is out of range [1, 4096]", options.max_batch_size));
  }
  if (options.num_threads < 0) {
    return absl::InvalidArgumentError(
        fmt::format("num_threads {} must be 0 (all) or positive", options.num_threads));
  }
  RETURN_IF_ERROR(kernels::CheckHostRuns(options.precision));
  RETURN_IF_ERROR(CheckTensors(weights.header(), config, weights.path().string(), config_source));
  std::unique_ptr<VitModel> model(new VitModel(config, options));
  model->num_parameters_ = CountParameters(config);
  kernels::SetThreads(model->num_threads_);
  ASSIGN_OR_RETURN(model->runtime_, kernels::DnnlRuntime::Create());
  RETURN_IF_ERROR(model->LoadWeights(weights));
  try {
    RETURN_IF_ERROR(model->AllocateWorkspace());
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(fmt::format(
        "out of memory allocating the workspace for {} images", options.max_batch_size));
  }
  return model;
}

absl::Status VitModel::LoadWeights(const SafetensorsFile& file) {
  WeightReader reader(file);
  const std::string p = TensorPrefix(config_) + ".";
  const int h = config_.hidden_size, inter = config_.intermediate_size;
  const int64_t tokens = config_.num_tokens();
  kernels::DnnlRuntime* rt = runtime_.get();

  // Linear layers in creation order; each takes the shared packed file's next tensors (one, or
  // two in int8: Linear::PackedTensorCount) when the file is there and holds the layout it would
  // choose (Linear::Create checks).
  const bool share = !options_.packed_weights_path.empty();
  uint64_t fingerprint = share ? WeightsFingerprint(file) : 0;
  if (options_.precision == kernels::Precision::kInt8) {
    // The weights' integer range depends on the host (kernels/quantize.h): a file quantized for
    // another range must not be taken for this one.
    fingerprint = (fingerprint ^ uint64_t(kernels::Int8WeightLimit())) * 1099511628211ull;
  }
  std::unique_ptr<kernels::PackedWeightFile::Lock> lock;  // held until the file is written
  if (share) {
    auto locked = kernels::PackedWeightFile::Acquire(options_.packed_weights_path);
    if (locked.ok()) {
      lock = std::move(*locked);
    } else {
      spdlog::warn("packing without the lock: {}", std::string(locked.status().message()));
    }
    auto opened = kernels::PackedWeightFile::Open(options_.packed_weights_path, fingerprint);
    if (opened.ok()) {
      shared_weights_ = std::move(*opened);
    } else if (!absl::IsNotFound(opened.status())) {
      spdlog::warn("ignoring packed weights: {}", std::string(opened.status().message()));
    }
  }
  std::vector<Linear*> linears;
  size_t packed_tensors = 0;  // the tensors of `linears` in the packed file
  // The classifier head stays fp32 whatever the precision: little work, and where rounding
  // would show most. The patch embedding's precision is chosen below.
  auto make_linear = [&](LinearSpec spec, std::span<const float> w, std::span<const float> b,
                         bool in_encoder = true) -> absl::StatusOr<std::unique_ptr<Linear>> {
    if (in_encoder) spec.precision = options_.precision;
    const size_t count = Linear::PackedTensorCount(spec.precision);
    std::span<const kernels::PackedWeightFile::Tensor> shared;
    if (shared_weights_ != nullptr && packed_tensors + count <= shared_weights_->tensors().size()) {
      shared = std::span(shared_weights_->tensors()).subspan(packed_tensors, count);
    }
    packed_tensors += count;
    LinearSpec packed_for = spec;
    if (packed_for.typical_rows == 0) packed_for.typical_rows = static_cast<int>(tokens);
    ASSIGN_OR_RETURN(std::unique_ptr<Linear> linear, Linear::Create(rt, packed_for, w, b, shared));
    linears.push_back(linear.get());
    return linear;
  };

  // Embeddings: fold the class / distillation tokens into their position embeddings.
  ASSIGN_OR_RETURN(auto position, reader.Read(p + "embeddings.position_embeddings"));
  token_embeddings_ = Copy(position);
  ASSIGN_OR_RETURN(auto cls, reader.Read(p + "embeddings.cls_token"));
  for (int i = 0; i < h; ++i) token_embeddings_[i] += cls[i];
  if (config_.architecture != VitArchitecture::kViT) {
    ASSIGN_OR_RETURN(auto distillation, reader.Read(p + "embeddings.distillation_token"));
    for (int i = 0; i < h; ++i) token_embeddings_[h + i] += distillation[i];
  }
  weight_bytes_ += token_embeddings_.size() * sizeof(float);
  {
    ASSIGN_OR_RETURN(auto w, reader.Read(p + "embeddings.patch_embeddings.projection.weight"));
    std::vector<float> weight = Copy(w);
    ASSIGN_OR_RETURN(auto bias, reader.Read(p + "embeddings.patch_embeddings.projection.bias"));
    // In bf16 the patch embedding's GEMM is bf16 too (its fp32 output starts the residual
    // stream), and so in int8 where the host runs bf16 natively; otherwise int8 keeps it fp32
    // (quantizing raw pixels to 8 bits costs more accuracy than the one GEMM saves).
    const bool bf16 = options_.precision == kernels::Precision::kBF16 ||
                      (options_.precision == kernels::Precision::kInt8 &&
                       kernels::CheckHostRuns(kernels::Precision::kBF16).ok());
    const kernels::Precision precision = bf16 ? kernels::Precision::kBF16 : kernels::Precision::kF32;
    ASSIGN_OR_RETURN(patch_embedding_, make_linear({.in_features = patch_geometry_.patch_size(),
                                                    .out_features = h,
                                                    .precision = precision},
                                                   weight, bias, /*in_encoder=*/false));
  }

  auto read_copy = [&](const std::string& name) -> absl::StatusOr<std::vector<float>> {
    ASSIGN_OR_RETURN(auto values, reader.Read(name));
    return Copy(values);
  };
  const kernels::Eltwise activation = ToEltwise(config_.hidden_act);
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string layer = fmt::format("{}encoder.layer.{}.", p, i);
    const bool last = i == config_.num_hidden_layers - 1;
    EncoderLayer l;
    // Q, K, V fused into one [3H, H] GEMM (the last layer: Q apart from a [2H, H] K-V GEMM).
    std::vector<float> qkv_weight, qkv_bias;
    for (const char* name : {"query", "key", "value"}) {
      const std::string base = layer + "attention.attention." + name + ".";
      ASSIGN_OR_RETURN(auto w, reader.Read(base + "weight"));
      qkv_weight.insert(qkv_weight.end(), w.begin(), w.end());
      if (config_.qkv_bias) {
        ASSIGN_OR_RETURN(auto b, reader.Read(base + "bias"));
        qkv_bias.insert(qkv_bias.end(), b.begin(), b.end());
      }
    }
    const auto qkv_spec = [this, h](int out) {
      return LinearSpec{.in_features = h,
                        .out_features = out,
                        .input_type = normed_type_,
                        .output_type = qkv_type_};
    };
    if (!last) {
      ASSIGN_OR_RETURN(l.qkv, make_linear(qkv_spec(3 * h), qkv_weight, qkv_bias));
    } else {
      const size_t hh = size_t(h) * h;
      std::span<const float> all_w(qkv_weight), all_b(qkv_bias);
      ASSIGN_OR_RETURN(l.query, make_linear(qkv_spec(h), all_w.first(hh),
                                            qkv_bias.empty() ? all_b : all_b.first(h)));
      ASSIGN_OR_RETURN(l.key_value, make_linear(qkv_spec(2 * h), all_w.subspan(hh),
                                                qkv_bias.empty() ? all_b : all_b.subspan(h)));
    }
    const LinearSpec accumulate_h{.in_features = h,
                                  .out_features = h,
                                  .epilogue = LinearEpilogue::kAccumulate,
                                  .input_type = context_type_};
    {
      ASSIGN_OR_RETURN(auto w, read_copy(layer + "attention.output.dense.weight"));
      ASSIGN_OR_RETURN(auto b, reader.Read(layer + "attention.output.dense.bias"));
      ASSIGN_OR_RETURN(l.attention_output, make_linear(accumulate_h, w, b));
    }
    {
      ASSIGN_OR_RETURN(auto w, read_copy(layer + "intermediate.dense.weight"));
      ASSIGN_OR_RETURN(auto b, reader.Read(layer + "intermediate.dense.bias"));
      ASSIGN_OR_RETURN(l.intermediate, make_linear({.in_features = h,
                                                    .out_features = inter,
                                                    .activation = activation,
                                                    .input_type = normed_type_,
                                                    .output_type = mlp_type_},
                                                   w, b));
    }
    {
      ASSIGN_OR_RETURN(auto w, read_copy(layer + "output.dense.weight"));
      ASSIGN_OR_RETURN(auto b, reader.Read(layer + "output.dense.bias"));
      ASSIGN_OR_RETURN(l.output, make_linear({.in_features = inter,
                                              .out_features = h,
                                              .epilogue = LinearEpilogue::kAccumulate,
                                              .input_type = mlp_type_},
                                             w, b));
    }
    for (auto [name, norm] : {std::pair{"layernorm_before", &l.norm_before},
                              std::pair{"layernorm_after", &l.norm_after}}) {
      ASSIGN_OR_RETURN(auto gamma, read_copy(layer + name + ".weight"));
      ASSIGN_OR_RETURN(auto beta, reader.Read(layer + name + ".bias"));
      ASSIGN_OR_RETURN(*norm,
                       kernels::LayerNorm::Create(rt, h, config_.layer_norm_eps, gamma, beta));
    }
    layers_.push_back(std::move(l));
  }
  {
    ASSIGN_OR_RETURN(auto gamma, read_copy(p + "layernorm.weight"));
    ASSIGN_OR_RETURN(auto beta, reader.Read(p + "layernorm.bias"));
    ASSIGN_OR_RETURN(final_norm_,
                     kernels::LayerNorm::Create(rt, h, config_.layer_norm_eps, gamma, beta));
  }
  const int labels = config_.num_labels();
  if (config_.architecture == VitArchitecture::kDeiTWithTeacher) {
    // mean(cls W_c^T + b_c, dist W_d^T + b_d) = [cls, dist] [W_c, W_d]^T / 2 + (b_c + b_d) / 2:
    // one GEMM over the two final-normed tokens side by side (halving is exact in fp32).
    ASSIGN_OR_RETURN(auto wc, read_copy("cls_classifier.weight"));
    ASSIGN_OR_RETURN(auto bc, read_copy("cls_classifier.bias"));
    ASSIGN_OR_RETURN(auto wd, read_copy("distillation_classifier.weight"));
    ASSIGN_OR_RETURN(auto bd, reader.Read("distillation_classifier.bias"));
    std::vector<float> weight(size_t(labels) * 2 * h), bias(labels);
    for (int l = 0; l < labels; ++l) {
      for (int i = 0; i < h; ++i) {
        weight[size_t(l) * 2 * h + i] = 0.5f * wc[size_t(l) * h + i];
        weight[size_t(l) * 2 * h + h + i] = 0.5f * wd[size_t(l) * h + i];
      }
      bias[l] = 0.5f * bc[l] + 0.5f * bd[l];
    }
    ASSIGN_OR_RETURN(classifier_, make_linear({2 * h, labels}, weight, bias, /*in_encoder=*/false));
  } else {
    ASSIGN_OR_RETURN(auto w, read_copy("classifier.weight"));
    ASSIGN_OR_RETURN(auto b, reader.Read("classifier.bias"));
    ASSIGN_OR_RETURN(classifier_, make_linear({h, labels}, w, b, /*in_encoder=*/false));
  }

  const int heads = config_.num_attention_heads, d = config_.head_dim();
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  const kernels::AttentionKernel kernel = options_.attention.value_or(
      qkv_type_ == ElementType::kBF16 && kernels::AmxBf16Available() && d % 2 == 0
          ? kernels::AttentionKernel::kFused
          : kernels::AttentionKernel::kSeparate);
  if (kernel == kernels::AttentionKernel::kFused) {
    // One call for the whole batch: the fused kernels' buffers are per thread, not per image.
    attention_group_size_ = options_.max_batch_size;
  } else {
    // The smallest group of images whose heads divide evenly among the threads (capped by the
    // batch size and by the score buffer: one group's scores should stay in the caches).
    attention_group_size_ = num_threads_ / std::gcd(heads, num_threads_);
    const int64_t group_score_bytes = int64_t{heads} * tokens * tokens * sizeof(float);
    while (attention_group_size_ > 1 &&
           (attention_group_size_ > options_.max_batch_size ||
            attention_group_size_ * group_score_bytes > (int64_t{8} << 20))) {
      --attention_group_size_;
    }
  }
  const kernels::AttentionSpec common{.num_heads = heads,
                                      .head_dim = d,
                                      .num_keys = static_cast<int>(tokens),
                                      .scale = scale,
                                      .kernel = kernel,
                                      .num_threads = num_threads_,
                                      .input_type = qkv_type_,
                                      .output_type = context_type_};
  for (int g = 1; g <= attention_group_size_; ++g) {
    if (config_.num_hidden_layers > 1) {
      kernels::AttentionSpec spec = common;
      spec.num_images = g;
      spec.num_queries = static_cast<int>(tokens);
      spec.q_row_stride = spec.k_row_stride = spec.v_row_stride = 3 * h;
      spec.out_row_stride = h;
      spec.q_image_stride = spec.k_image_stride = spec.v_image_stride = tokens * 3 * h;
      spec.out_image_stride = tokens * h;
      ASSIGN_OR_RETURN(attention_.emplace_back(), kernels::Attention::Create(rt, spec));
    }
    kernels::AttentionSpec spec = common;
    spec.num_images = g;
    spec.num_queries = num_query_tokens_;
    spec.q_row_stride = h;
    spec.k_row_stride = spec.v_row_stride = 2 * h;
    spec.out_row_stride = h;
    spec.q_image_stride = spec.out_image_stride = num_query_tokens_ * h;
    spec.k_image_stride = spec.v_image_stride = tokens * 2 * h;
    ASSIGN_OR_RETURN(last_attention_.emplace_back(), kernels::Attention::Create(rt, spec));
  }

  const bool all_shared = shared_weights_ != nullptr &&
                          shared_weights_->tensors().size() == packed_tensors &&
                          std::all_of(linears.begin(), linears.end(),
                                      [](const Linear* l) { return l->uses_shared_weights(); });
  if (share && !all_shared) ShareWeights(linears, fingerprint);
  for (const Linear* linear : linears) {
    if (linear->uses_shared_weights()) {
      for (const auto& tensor : linear->packed_tensors()) {
        shared_weight_bytes_ += tensor.desc.get_size();
      }
    }
  }

  weight_bytes_ += patch_embedding_->weight_bytes() + classifier_->weight_bytes();
  for (const EncoderLayer& l : layers_) {
    for (const auto* linear : {l.qkv.get(), l.query.get(), l.key_value.get(),
                               l.attention_output.get(), l.intermediate.get(), l.output.get()}) {
      if (linear != nullptr) weight_bytes_ += linear->weight_bytes();
    }
    weight_bytes_ += 4 * sizeof(float) * size_t(h);
  }
  weight_bytes_ += 2 * sizeof(float) * size_t(h);
  return absl::OkStatus();
}

void VitModel::ShareWeights(const std::vector<kernels::Linear*>& linears, uint64_t fingerprint) {
  std::vector<kernels::PackedWeightFile::Tensor> tensors;
  std::vector<size_t> first_tensor;  // of each linear
  for (const Linear* linear : linears) {
    first_tensor.push_back(tensors.size());
    for (const auto& tensor : linear->packed_tensors()) tensors.push_back(tensor);
  }
  const std::filesystem::path& path = options_.packed_weights_path;
  absl::Status written = kernels::PackedWeightFile::Write(path, fingerprint, tensors);
  auto opened = written.ok() ? kernels::PackedWeightFile::Open(path, fingerprint)
                             : absl::StatusOr<std::unique_ptr<kernels::PackedWeightFile>>(written);
  if (!opened.ok() || (*opened)->tensors().size() != tensors.size()) {
    spdlog::warn("weights stay private to this process: {}",
                 opened.ok() ? "the packed weight file changed meanwhile"
                             : std::string(opened.status().message()));
    return;
  }
  // Same process, same layouts: every switch succeeds; a failure leaves that layer private.
  for (size_t i = 0; i < linears.size(); ++i) {
    const auto shared =
        std::span((*opened)->tensors())
            .subspan(first_tensor[i], Linear::PackedTensorCount(linears[i]->spec().precision));
    if (absl::Status s = linears[i]->UseSharedWeights(shared); !s.ok()) {
      spdlog::warn("layer {} keeps private weights: {}", i, std::string(s.message()));
    }
  }
  shared_weights_ = std::move(*opened);
}

absl::Status VitModel::AllocateWorkspace() {
  const size_t b = options_.max_batch_size, t = config_.num_tokens(), h = config_.hidden_size,
               inter = config_.intermediate_size, q = num_query_tokens_;
  const size_t patches = config_.num_patches();
  patches_ = kernels::AlignedBuffer(b * patches * patch_geometry_.patch_size());
  patch_out_ = kernels::AlignedBuffer(b * patches * h);
  // `count` elements of `type`, in floats (AlignedBuffer's unit): bf16 buffers take half.
  const auto holding = [](size_t count, ElementType type) {
    return kernels::AlignedBuffer(type == ElementType::kBF16 ? (count + 1) / 2 : count);
  };
  hidden_ = kernels::AlignedBuffer(b * t * h);
  normed_ = holding(b * t * h, normed_type_);
  qkv_ = holding(b * t * 3 * h, qkv_type_);
  context_ = holding(b * t * h, context_type_);
  mlp_ = holding(b * t * inter, mlp_type_);
  size_t scores = 0;
  for (const auto* attentions : {&attention_, &last_attention_}) {
    for (const auto& attention : *attentions) scores = std::max(scores, attention->scores_size());
  }
  scores_ = kernels::AlignedBuffer(scores);
  small_hidden_ = kernels::AlignedBuffer(b * q * h);
  small_normed_ = holding(b * q * h, normed_type_);
  small_query_ = holding(b * q * h, qkv_type_);
  small_context_ = holding(b * q * h, context_type_);
  small_mlp_ = holding(b * q * inter, mlp_type_);
  head_input_ = kernels::AlignedBuffer(b * q * h);
  logits_ = kernels::AlignedBuffer(b * config_.num_labels());
  return absl::OkStatus();
}

absl::Status VitModel::WarmUp(int batch) {
  if (batch < 1 || batch > options_.max_batch_size) {
    return absl::InvalidArgumentError(
        fmt::format("batch {} is out of range [1, {}]", batch, options_.max_batch_size));
  }
  kernels::SetThreads(num_threads_);
  const int t = config_.num_tokens(), q = num_query_tokens_;
  RETURN_IF_ERROR(patch_embedding_->Prepare(batch * config_.num_patches()));
  for (const EncoderLayer& l : layers_) {
    const bool last = l.qkv == nullptr;
    // LayerNorm into bf16 is Tessera's own kernel, with no oneDNN plan to make.
    if (normed_type_ == ElementType::kF32) RETURN_IF_ERROR(l.norm_before->Prepare(batch * t));
    if (!last) {
      RETURN_IF_ERROR(l.qkv->Prepare(batch * t, batch));
    } else {
      RETURN_IF_ERROR(l.key_value->Prepare(batch * t, batch));
      RETURN_IF_ERROR(l.query->Prepare(batch * q, batch));
    }
    const int rows = last ? batch * q : batch * t;
    RETURN_IF_ERROR(l.attention_output->Prepare(rows, batch));
    if (normed_type_ == ElementType::kF32) RETURN_IF_ERROR(l.norm_after->Prepare(rows));
    RETURN_IF_ERROR(l.intermediate->Prepare(rows, batch));
    RETURN_IF_ERROR(l.output->Prepare(rows, batch));
  }
  RETURN_IF_ERROR(final_norm_->Prepare(batch * q));
  return classifier_->Prepare(batch);
}

std::string VitModel::GemmKernel(int batch) const {
  const EncoderLayer& first = layers_.front();
  const int rows = first.qkv == nullptr ? batch * num_query_tokens_ : batch * config_.num_tokens();
  return first.intermediate->ImplementationName(rows, batch);
}

absl::Status VitModel::Embed(std::span<const float> pixels, int batch) {
  const int64_t per_image = config_.pixels_per_image();
  const int64_t patches = config_.num_patches(), patch_size = patch_geometry_.patch_size();
#pragma omp parallel for schedule(static)
  for (int b = 0; b < batch; ++b) {
    kernels::UnfoldPatches(patch_geometry_, pixels.data() + b * per_image,
                           patches_.data() + b * patches * patch_size);
  }
  RETURN_IF_ERROR(
      patch_embedding_->Run(static_cast<int>(batch * patches), patches_.data(), patch_out_.data()));
  const int64_t h = config_.hidden_size, t = config_.num_tokens();
  const int64_t prefix = config_.num_prefix_tokens();
  const float* embeddings = token_embeddings_.data();
  const float* patch_out = patch_out_.data();
  float* hidden = hidden_.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < batch; ++b) {
    for (int64_t token = 0; token < t; ++token) {
      float* dst = hidden + (b * t + token) * h;
      const float* e = embeddings + token * h;
      if (token < prefix) {
        std::memcpy(dst, e, sizeof(float) * h);
      } else {
        const float* x = patch_out + (b * patches + token - prefix) * h;
        for (int64_t i = 0; i < h; ++i) dst[i] = x[i] + e[i];
      }
    }
  }
  return absl::OkStatus();
}

template <typename A>
absl::Status VitModel::RunLayer(const EncoderLayer& l, int batch) {
  const int t = config_.num_tokens(), rows = batch * t;
  const int64_t h = config_.hidden_size;
  auto* normed = normed_.as<typename A::Normed>();
  auto* qkv = qkv_.as<typename A::Qkv>();
  auto* context = context_.as<typename A::Context>();
  auto* mlp = mlp_.as<typename A::Mlp>();
  RETURN_IF_ERROR(l.norm_before->Run(rows, hidden_.data(), normed));
  // The encoder's linear layers run the batch as `batch` groups (kernels/linear.h: int8
  // quantizes each image on its own).
  RETURN_IF_ERROR(l.qkv->Run(rows, normed, qkv, batch));
  for (int b = 0; b < batch; b += attention_group_size_) {
    const int group = std::min(attention_group_size_, batch - b);
    const auto* image_qkv = qkv + int64_t{b} * t * 3 * h;
    RETURN_IF_ERROR(attention_[group - 1]->Run(image_qkv, image_qkv + h, image_qkv + 2 * h,
                                               context + int64_t{b} * t * h, scores_.data()));
  }
  RETURN_IF_ERROR(l.attention_output->Run(rows, context, hidden_.data(), batch));
  RETURN_IF_ERROR(l.norm_after->Run(rows, hidden_.data(), normed));
  if (options_.precision == kernels::Precision::kInt8) {
    // The int8 GEMMs run image by image anyway (kernels/linear.h): so does the MLP, whose hidden
    // layer (GELU'd, then quantized for the second GEMM) then stays in cache.
    for (int b = 0; b < batch; ++b) {
      RETURN_IF_ERROR(l.intermediate->Run(t, normed + int64_t{b} * t * h, mlp, 1));
      RETURN_IF_ERROR(l.output->Run(t, mlp, hidden_.data() + int64_t{b} * t * h, 1));
    }
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(l.intermediate->Run(rows, normed, mlp, batch));
  return l.output->Run(rows, mlp, hidden_.data(), batch);
}

template <typename A>
absl::Status VitModel::RunLastLayer(const EncoderLayer& l, int batch) {
  const int t = config_.num_tokens(), q = num_query_tokens_;
  const int64_t h = config_.hidden_size;
  auto* normed = normed_.as<typename A::Normed>();
  auto* small_normed = small_normed_.as<typename A::Normed>();
  RETURN_IF_ERROR(l.norm_before->Run(batch * t, hidden_.data(), normed));
  auto* kv = qkv_.as<typename A::Qkv>();  // [batch * t][2h]
  RETURN_IF_ERROR(l.key_value->Run(batch * t, normed, kv, batch));
  // The query tokens (the first q of each image), gathered into dense [batch * q][h] rows.
  for (int b = 0; b < batch; ++b) {
    GatherRows(normed + int64_t{b} * t * h, h, q, h, small_normed + b * q * h);
    GatherRows(hidden_.data() + int64_t{b} * t * h, h, q, h, small_hidden_.data() + b * q * h);
  }
  auto* query = small_query_.as<typename A::Qkv>();
  auto* context = small_context_.as<typename A::Context>();
  auto* mlp = small_mlp_.as<typename A::Mlp>();
  RETURN_IF_ERROR(l.query->Run(batch * q, small_normed, query, batch));
  for (int b = 0; b < batch; b += attention_group_size_) {
    const int group = std::min(attention_group_size_, batch - b);
    const auto* image_kv = kv + int64_t{b} * t * 2 * h;
    RETURN_IF_ERROR(last_attention_[group - 1]->Run(query + b * q * h, image_kv, image_kv + h,
                                                    context + b * q * h, scores_.data()));
  }
  const int rows = batch * q;
  RETURN_IF_ERROR(l.attention_output->Run(rows, context, small_hidden_.data(), batch));
  RETURN_IF_ERROR(l.norm_after->Run(rows, small_hidden_.data(), small_normed));
  RETURN_IF_ERROR(l.intermediate->Run(rows, small_normed, mlp, batch));
  return l.output->Run(rows, mlp, small_hidden_.data(), batch);
}

template <typename A>
absl::Status VitModel::RunEncoder(int batch) {
  if (normed_type_ != TypeOf<typename A::Normed>() || qkv_type_ != TypeOf<typename A::Qkv>() ||
      context_type_ != TypeOf<typename A::Context>() || mlp_type_ != TypeOf<typename A::Mlp>()) {
    return absl::InternalError("VitModel: encoder run with other activation types than built");
  }
  for (size_t i = 0; i + 1 < layers_.size(); ++i) RETURN_IF_ERROR(RunLayer<A>(layers_[i], batch));
  return RunLastLayer<A>(layers_.back(), batch);
}

absl::Status VitModel::Forward(std::span<const float> pixels, int batch, std::span<float> logits) {
  if (batch < 1 || batch > options_.max_batch_size) {
    return absl::InvalidArgumentError(
        fmt::format("batch {} is out of range [1, {}]", batch, options_.max_batch_size));
  }
  const size_t expected_pixels = size_t(batch) * config_.pixels_per_image();
  const size_t expected_logits = size_t(batch) * config_.num_labels();
  if (pixels.size() != expected_pixels || logits.size() != expected_logits) {
    return absl::InvalidArgumentError(fmt::format(
        "Forward of {} images of {}x{}x{} needs {} pixel values and room for {} logits; got {} "
        "and {}",
        batch, config_.num_channels, config_.image_height, config_.image_width, expected_pixels,
        expected_logits, pixels.size(), logits.size()));
  }
  kernels::SetThreads(num_threads_);
  RETURN_IF_ERROR(Embed(pixels, batch));
  if (mlp_type_ == ElementType::kBF16) {
    RETURN_IF_ERROR(RunEncoder<Bf16Activations>(batch));
  } else if (qkv_type_ == ElementType::kBF16) {
    RETURN_IF_ERROR(RunEncoder<Int8AmxActivations>(batch));
  } else {
    RETURN_IF_ERROR(RunEncoder<F32Activations>(batch));
  }
  const int q = num_query_tokens_;
  RETURN_IF_ERROR(final_norm_->Run(batch * q, small_hidden_.data(), head_input_.data()));
  // [batch * q][h] is [batch][q * h]: the teacher head reads both tokens side by side.
  RETURN_IF_ERROR(classifier_->Run(batch, head_input_.data(), logits_.data()));
  std::memcpy(logits.data(), logits_.data(), sizeof(float) * expected_logits);
  for (float v : logits) {
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(
          "the model produced non-finite logits (are the pixel values finite?)");
    }
  }
  return absl::OkStatus();
}

}  // namespace tessera::engine
