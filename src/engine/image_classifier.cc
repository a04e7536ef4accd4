#include "engine/image_classifier.h"

#include <algorithm>

#include "common/status_macros.h"
#include "engine/kernels/precision.h"
#include "engine/vit/checkpoint.h"
#include "engine/vit/postprocess.h"
#include "engine/vit/vit_model.h"
#include "fmt/format.h"

namespace tessera::engine {
namespace {

// The preprocessor must produce exactly the tensor the model takes.
absl::Status CheckPreprocessorMatchesModel(const PreprocessConfig& preprocess,
                                           const ViTConfig& config,
                                           const std::filesystem::path& dir) {
  if (config.num_channels != 3) {
    return absl::InvalidArgumentError(
        fmt::format("{}: num_channels is {}, but images are preprocessed to 3 (RGB) channels",
                    (dir / kConfigFile).string(), config.num_channels));
  }
  if (preprocess.output_height() != config.image_height ||
      preprocess.output_width() != config.image_width) {
    return absl::InvalidArgumentError(
        fmt::format("{} produces {}x{} images but {} expects image_size {}x{}",
                    (dir / kPreprocessorConfigFile).string(), preprocess.output_height(),
                    preprocess.output_width(), (dir / kConfigFile).string(), config.image_height,
                    config.image_width));
  }
  return absl::OkStatus();
}

}  // namespace

ImageClassifier::~ImageClassifier() = default;

absl::Status ImageClassifier::Validate(const std::filesystem::path& model_dir) {
  ASSIGN_OR_RETURN(ViTConfig config, ValidateCheckpointDir(model_dir));
  ASSIGN_OR_RETURN(PreprocessConfig preprocess,
                   PreprocessConfig::FromFile(model_dir / kPreprocessorConfigFile));
  return CheckPreprocessorMatchesModel(preprocess, config, model_dir);
}

HostSupport DetectHostSupport() {
  HostSupport support{.isa = kernels::HostIsaName(), .precisions = {}};
  for (kernels::Precision p : kernels::kAllPrecisions) {
    if (kernels::CheckHostRuns(p).ok()) {
      support.precisions.emplace_back(kernels::PrecisionName(p));
    }
  }
  return support;
}

absl::StatusOr<std::unique_ptr<ImageClassifier>> ImageClassifier::Load(
    const std::filesystem::path& model_dir, const EngineOptions& options) {
  std::unique_ptr<ImageClassifier> classifier(new ImageClassifier());
  classifier->options_ = options;
  ASSIGN_OR_RETURN(classifier->preprocess_,
                   PreprocessConfig::FromFile(model_dir / kPreprocessorConfigFile));
  ASSIGN_OR_RETURN(const kernels::Precision precision, kernels::ParsePrecision(options.precision));
  ASSIGN_OR_RETURN(ViTConfig config, LoadViTConfig(model_dir / kConfigFile));
  RETURN_IF_ERROR(CheckPreprocessorMatchesModel(classifier->preprocess_, config, model_dir));
  ASSIGN_OR_RETURN(classifier->model_,
                   VitModel::Load(model_dir, {.num_threads = options.num_threads,
                                              .max_batch_size = options.max_batch_size,
                                              .packed_weights_path = options.packed_weights_path,
                                              .precision = precision}));
  const VitModel& model = *classifier->model_;
  ModelInfo& info = classifier->info_;
  info.architecture = ArchitectureName(config.architecture);
  info.model_type = config.model_type;
  info.image_height = config.image_height;
  info.image_width = config.image_width;
  info.num_channels = config.num_channels;
  info.patch_height = config.patch_height;
  info.patch_width = config.patch_width;
  info.hidden_size = config.hidden_size;
  info.num_layers = config.num_hidden_layers;
  info.num_heads = config.num_attention_heads;
  info.intermediate_size = config.intermediate_size;
  info.num_labels = config.num_labels();
  info.labels = config.labels;
  info.num_parameters = model.num_parameters();
  info.weight_bytes = model.weight_bytes();
  info.shared_weight_bytes = model.shared_weight_bytes();
  info.max_batch_size = model.max_batch_size();
  info.num_threads = model.num_threads();
  info.precision = std::string(kernels::PrecisionName(model.precision()));
  info.isa = kernels::HostIsaName();
  classifier->batch_pixels_.resize(size_t(options.max_batch_size) * classifier->pixels_per_image());
  classifier->batch_logits_.resize(size_t(options.max_batch_size) * info.num_labels);
  return classifier;
}

size_t ImageClassifier::pixels_per_image() const {
  return static_cast<size_t>(model_->config().pixels_per_image());
}

absl::Status ImageClassifier::Preprocess(std::span<const uint8_t> encoded_image,
                                         std::span<float> pixels) const {
  if (pixels.size() != pixels_per_image()) {
    return absl::InvalidArgumentError(fmt::format(
        "pixel buffer holds {} floats, one image needs {}", pixels.size(), pixels_per_image()));
  }
  ASSIGN_OR_RETURN(RgbImage image, DecodeImage(encoded_image, options_.decode_limits));
  return engine::Preprocess(image, preprocess_, pixels);
}

absl::Status ImageClassifier::WarmUp(int batch) { return model_->WarmUp(batch); }

std::string ImageClassifier::GemmKernel(int batch) const { return model_->GemmKernel(batch); }

std::string ImageClassifier::AttentionImplementation() const {
  return model_->AttentionImplementation();
}

absl::Status ImageClassifier::Forward(std::span<const float> pixels, int batch,
                                      std::span<float> logits) {
  return model_->Forward(pixels, batch, logits);
}

std::vector<Prediction> ImageClassifier::TopK(std::span<const float> logits_row, int k) const {
  std::vector<Prediction> out;
  if (logits_row.size() != size_t(info_.num_labels)) return out;
  for (const ClassScore& score : engine::TopK(logits_row, std::max(k, 1))) {
    out.push_back({.label = info_.labels[score.class_index],
                   .class_index = score.class_index,
                   .confidence = score.probability});
  }
  return out;
}

std::vector<absl::StatusOr<std::vector<Prediction>>> ImageClassifier::Classify(
    const std::vector<std::span<const uint8_t>>& images, int top_k) {
  std::vector<absl::StatusOr<std::vector<Prediction>>> results(
      images.size(), absl::InternalError("not classified"));
  if (top_k < 1) {
    for (auto& result : results) {
      result = absl::InvalidArgumentError(fmt::format("top_k must be at least 1, got {}", top_k));
    }
    return results;
  }
  const size_t per_image = pixels_per_image(), labels = info_.num_labels;
  const int max_batch = info_.max_batch_size;
  std::vector<size_t> slots;  // image index of each filled batch slot
  slots.reserve(max_batch);
  auto run_batch = [&]() {
    if (slots.empty()) return;
    const int batch = static_cast<int>(slots.size());
    absl::Status status = Forward(std::span<const float>(batch_pixels_).first(batch * per_image),
                                  batch, std::span<float>(batch_logits_).first(batch * labels));
    for (int i = 0; i < batch; ++i) {
      if (status.ok()) {
        results[slots[i]] =
            TopK(std::span<const float>(batch_logits_).subspan(i * labels, labels), top_k);
      } else {
        results[slots[i]] = status;
      }
    }
    slots.clear();
  };
  for (size_t i = 0; i < images.size(); ++i) {
    std::span<float> slot =
        std::span<float>(batch_pixels_).subspan(slots.size() * per_image, per_image);
    absl::Status status = Preprocess(images[i], slot);
    if (!status.ok()) {
      results[i] = status;
      continue;
    }
    slots.push_back(i);
    if (static_cast<int>(slots.size()) == max_batch) run_batch();
  }
  run_batch();
  return results;
}

}  // namespace tessera::engine
