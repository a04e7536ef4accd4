// The tensors a ViT / DeiT image-classification checkpoint must hold, by Hugging Face name and
// shape, derived from its config; the check of a safetensors header against them; and reading
// one tensor as float32.
//
// Names (prefix "vit" or "deit"):
//   {p}.embeddings.cls_token [1, 1, H]   {p}.embeddings.distillation_token [1, 1, H] (DeiT)
//   {p}.embeddings.position_embeddings [1, tokens, H]
//   {p}.embeddings.patch_embeddings.projection.{weight [H, C, ph, pw], bias [H]}
//   {p}.encoder.layer.{i}.attention.attention.{query,key,value}.{weight [H, H], bias [H]}
//   {p}.encoder.layer.{i}.attention.output.dense.{weight [H, H], bias [H]}
//   {p}.encoder.layer.{i}.intermediate.dense.{weight [I, H], bias [I]}
//   {p}.encoder.layer.{i}.output.dense.{weight [H, I], bias [H]}
//   {p}.encoder.layer.{i}.layernorm_{before,after}.{weight, bias} [H]
//   {p}.layernorm.{weight, bias} [H]
//   classifier.{weight [L, H], bias [L]}, or for DeiT with teacher
//   cls_classifier.* and distillation_classifier.*
// Tensors the model does not use (a pooler, say) are ignored.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/vit/config.h"
#include "engine/vit/safetensors.h"

namespace tessera::engine {

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::string derivation;  // how the config determines the shape, for error messages
};

// "vit" or "deit".
std::string TensorPrefix(const ViTConfig& config);
// Every tensor the model reads, in load order.
std::vector<ExpectedTensor> ExpectedTensors(const ViTConfig& config);

// Checks that `header` (of `weights_source`) holds every expected tensor with the expected shape
// and a float dtype (F32, F16, BF16), and no more encoder layers than the config states.
// Errors name the weights file, the tensor, and the config file the shape came from.
absl::Status CheckTensors(const SafetensorsHeader& header, const ViTConfig& config,
                          const std::string& weights_source, const std::string& config_source);

// Number of values the expected tensors hold (the model's parameter count).
int64_t CountParameters(const ViTConfig& config);

// Reads weights as float32 from a mapped file, without copying F32 tensors that are aligned.
class WeightReader {
 public:
  explicit WeightReader(const SafetensorsFile& file) : file_(file) {}
  // The values of tensor `name` (which CheckTensors has validated). The span points into the
  // mapping or into an internal buffer that the next Read reuses.
  absl::StatusOr<std::span<const float>> Read(const std::string& name);

 private:
  const SafetensorsFile& file_;
  std::vector<float> buffer_;
};

}  // namespace tessera::engine
