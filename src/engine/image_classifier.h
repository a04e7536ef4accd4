// The engine's facade: a Hugging Face ViT / DeiT image-classification checkpoint folder
// (config.json, preprocessor_config.json, model.safetensors) behind one class that turns encoded
// images (JPEG, PNG, WebP) into top-k labels with confidences. The runtime (replica) and the
// `tessera classify` CLI use only this header.
//
// Contract (TF Serving's loader.h style):
//  - Load reads and prepacks everything once; the model-wide state (config, labels, weights,
//    preprocessing) is immutable afterwards.
//  - Preprocess, TopK, info() and pixels_per_image() are const and thread-safe: decode and
//    preprocess images on any number of threads (e.g. while a batch runs).
//  - Forward and Classify are NOT re-entrant: they own the workspace (preallocated for
//    max_batch_size images) and the oneDNN stream. Call them from one thread at a time (any
//    thread). Forward allocates no buffers in the steady state (after WarmUp or a first
//    call per batch size; see vit/vit_model.h).
//  - Nothing throws; every failure is an absl::Status naming the file, tensor or image.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/image/decode.h"
#include "engine/image/preprocess.h"

namespace tessera::engine {

class VitModel;

struct EngineOptions {
  int num_threads = 0;     // threads per Forward; 0 = every CPU this process may use
  int max_batch_size = 8;  // largest batch Forward accepts; Classify splits larger inputs
  DecodeLimits decode_limits;
  // Non-empty: share the prepacked weights with other processes through this file
  // (vit/vit_model.h, VitModelOptions::packed_weights_path).
  std::filesystem::path packed_weights_path;
  // "fp32", "bf16" or "int8" (the encoder's GEMMs; vit/vit_model.h). A precision this host does not
  // run natively fails Load with FAILED_PRECONDITION naming the host's ISA.
  std::string precision = "fp32";
};

struct Prediction {
  std::string label;
  int class_index = 0;
  float confidence = 0.f;  // softmax probability
};

// What Load found, for logs, health endpoints and the model registry.
struct ModelInfo {
  std::string architecture;  // "ViTForImageClassification", ...
  std::string model_type;    // "vit", "deit"
  int image_height = 0;
  int image_width = 0;
  int num_channels = 0;
  int patch_height = 0;
  int patch_width = 0;
  int hidden_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int intermediate_size = 0;
  int num_labels = 0;
  std::vector<std::string> labels;  // by class index
  int64_t num_parameters = 0;
  size_t weight_bytes = 0;         // prepacked fp32 weights held in memory
  size_t shared_weight_bytes = 0;  // of those, mapped from the shared packed weight file
  int max_batch_size = 0;
  int num_threads = 0;
  std::string precision;  // "fp32", "bf16", "int8"
  std::string isa;        // the instruction set the kernels dispatch to, e.g. "avx512_core_bf16"
};

// What this host's CPU runs natively: its instruction set as the kernels see it and the
// precisions EngineOptions::precision may name here ("fp32" always; "bf16" with AVX-512 BF16 or
// AMX).
struct HostSupport {
  std::string isa;
  std::vector<std::string> precisions;
};
HostSupport DetectHostSupport();

class ImageClassifier {
 public:
  // Loads `model_dir`. Fails when a file is missing or invalid, or when the preprocessor's
  // output size differs from the model's image size.
  static absl::StatusOr<std::unique_ptr<ImageClassifier>> Load(
      const std::filesystem::path& model_dir, const EngineOptions& options);
  // Checks `model_dir` the way Load would, reading only config.json, preprocessor_config.json
  // and the safetensors header (no weights): cheap enough to validate an upload.
  static absl::Status Validate(const std::filesystem::path& model_dir);

  ~ImageClassifier();
  ImageClassifier(const ImageClassifier&) = delete;
  ImageClassifier& operator=(const ImageClassifier&) = delete;

  const ModelInfo& info() const { return info_; }
  // Floats of one preprocessed image: channels * height * width.
  size_t pixels_per_image() const;

  // Decodes and preprocesses one encoded image into `pixels` (pixels_per_image() floats, CHW).
  // Thread-safe. INVALID_ARGUMENT for undecodable or oversized images.
  absl::Status Preprocess(std::span<const uint8_t> encoded_image, std::span<float> pixels) const;

  // Creates the kernels for `batch` images ahead of the first Forward of that size.
  absl::Status WarmUp(int batch);
  // The oneDNN kernel of the encoder's largest GEMM at `batch` images (after WarmUp(batch)),
  // e.g. "brgconv_1x1:avx512_core_bf16": what the precision and ISA came to. Not thread-safe
  // against Forward (which may add kernels): call it where Forward would be called.
  std::string GemmKernel(int batch) const;
  // How attention runs, e.g. "separate(gemm:jit, jit:avx2, gemm:jit)" (kernels/attention.h).
  std::string AttentionImplementation() const;
  // pixels: [batch][pixels_per_image()]; logits: [batch][num_labels]; 1 <= batch <=
  // max_batch_size. Not re-entrant.
  absl::Status Forward(std::span<const float> pixels, int batch, std::span<float> logits);

  // The k most probable labels of one image's logits (num_labels values), most probable first;
  // k is clamped to [1, num_labels]. Thread-safe.
  std::vector<Prediction> TopK(std::span<const float> logits_row, int k) const;

  // Decode + preprocess + forward (in batches of up to max_batch_size) + top-k for each image.
  // One result per image, in order: an image that fails to decode gets its own error and does
  // not fail the others. top_k < 1 is an INVALID_ARGUMENT for every image. Not re-entrant.
  std::vector<absl::StatusOr<std::vector<Prediction>>> Classify(
      const std::vector<std::span<const uint8_t>>& images, int top_k);

 private:
  ImageClassifier() = default;

  ModelInfo info_;
  EngineOptions options_;
  PreprocessConfig preprocess_;
  std::unique_ptr<VitModel> model_;
  std::vector<float> batch_pixels_;  // Classify's workspace: [max_batch_size][pixels_per_image]
  std::vector<float> batch_logits_;  // [max_batch_size][num_labels]
};

}  // namespace tessera::engine
