// The model description read from a Hugging Face checkpoint's config.json: architecture, shapes,
// activation and labels of a ViT or DeiT image classifier.
//
// Contract: pure parsing and validation, no I/O beyond reading the one file. Every error names
// the file (and the offending key). A ViTConfig that parsed OK is internally consistent (hidden
// size divisible by the head count, image at least one patch, ...); whether the tensors agree
// with it is checked by vit/weights.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace tessera::engine {

// The `architectures[0]` of config.json that the engine runs.
enum class VitArchitecture {
  kViT,              // ViTForImageClassification: classifier on the class token
  kDeiT,             // DeiTForImageClassification: class + distillation token, classifier on class
  kDeiTWithTeacher,  // DeiTForImageClassificationWithTeacher: mean of the class-token head and
                     // the distillation-token head
};

// The MLP activation (`hidden_act`), each computed exactly as transformers' ACT2FN does.
enum class Activation {
  kGeluErf,   // "gelu": 0.5 x (1 + erf(x / sqrt 2))
  kGeluTanh,  // "gelu_new", "gelu_pytorch_tanh", "gelu_fast": tanh approximation
  kRelu,      // "relu"
  kSilu,      // "silu", "swish": x sigmoid(x)
};

// "ViTForImageClassification", ... and "gelu", ... as written in config.json.
const char* ArchitectureName(VitArchitecture architecture);
const char* ActivationName(Activation activation);

struct ViTConfig {
  VitArchitecture architecture = VitArchitecture::kViT;
  std::string model_type;  // "vit" or "deit" (informational)
  int hidden_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int intermediate_size = 0;
  int image_height = 0;  // `image_size` (an int, or [height, width])
  int image_width = 0;
  int patch_height = 0;  // `patch_size` (an int, or [height, width])
  int patch_width = 0;
  int num_channels = 3;
  float layer_norm_eps = 1e-12f;
  bool qkv_bias = true;
  Activation hidden_act = Activation::kGeluErf;
  std::vector<std::string> labels;  // id2label in index order; "LABEL_i" where id2label lacks i

  int head_dim() const { return hidden_size / num_attention_heads; }
  // Patches per image; like the PyTorch convolution, a partial patch at the edge is dropped.
  int patches_per_column() const { return image_height / patch_height; }
  int patches_per_row() const { return image_width / patch_width; }
  int num_patches() const { return patches_per_column() * patches_per_row(); }
  // Tokens that precede the patches: the class token, and for DeiT the distillation token.
  int num_prefix_tokens() const { return architecture == VitArchitecture::kViT ? 1 : 2; }
  int num_tokens() const { return num_patches() + num_prefix_tokens(); }
  int num_labels() const { return static_cast<int>(labels.size()); }
  // Values in one image's CHW pixel tensor.
  int64_t pixels_per_image() const { return int64_t{num_channels} * image_height * image_width; }
};

// Parses config.json text; `source` names the file in error messages.
absl::StatusOr<ViTConfig> ParseViTConfig(const nlohmann::json& json, const std::string& source);
// Reads and parses `path` (a config.json).
absl::StatusOr<ViTConfig> LoadViTConfig(const std::filesystem::path& path);

}  // namespace tessera::engine
