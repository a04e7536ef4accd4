#include "engine/vit/weights.h"

#include "fmt/format.h"

namespace tessera::engine {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace

std::string TensorPrefix(const ViTConfig& config) {
  return config.architecture == VitArchitecture::kViT ? "vit" : "deit";
}

std::vector<ExpectedTensor> ExpectedTensors(const ViTConfig& config) {
  const std::string p = TensorPrefix(config);
  const int64_t h = config.hidden_size, inter = config.intermediate_size;
  const std::string hs = fmt::format("hidden_size {}", h);
  const std::string is = fmt::format("intermediate_size {}", inter);
  std::vector<ExpectedTensor> out;
  out.push_back({p + ".embeddings.cls_token", {1, 1, h}, hs});
  if (config.architecture != VitArchitecture::kViT) {
    out.push_back({p + ".embeddings.distillation_token", {1, 1, h}, hs});
  }
  out.push_back(
      {p + ".embeddings.position_embeddings",
       {1, config.num_tokens(), h},
       fmt::format("{} prefix token(s) + (image_size {}x{} / patch_size {}x{}) patches = {} "
                   "tokens, {}",
                   config.num_prefix_tokens(), config.image_height, config.image_width,
                   config.patch_height, config.patch_width, config.num_tokens(), hs)});
  const std::string patch = p + ".embeddings.patch_embeddings.projection.";
  out.push_back({patch + "weight",
                 {h, config.num_channels, config.patch_height, config.patch_width},
                 fmt::format("{}, num_channels {}, patch_size {}x{}", hs, config.num_channels,
                             config.patch_height, config.patch_width)});
  out.push_back({patch + "bias", {h}, hs});
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    const std::string layer = fmt::format("{}.encoder.layer.{}.", p, i);
    for (const char* name : {"query", "key", "value"}) {
      const std::string base = layer + "attention.attention." + name + ".";
      out.push_back({base + "weight", {h, h}, hs});
      if (config.qkv_bias) out.push_back({base + "bias", {h}, hs + ", qkv_bias true"});
    }
    out.push_back({layer + "attention.output.dense.weight", {h, h}, hs});
    out.push_back({layer + "attention.output.dense.bias", {h}, hs});
    out.push_back({layer + "intermediate.dense.weight", {inter, h}, is + ", " + hs});
    out.push_back({layer + "intermediate.dense.bias", {inter}, is});
    out.push_back({layer + "output.dense.weight", {h, inter}, hs + ", " + is});
    out.push_back({layer + "output.dense.bias", {h}, hs});
    for (const char* norm : {"layernorm_before", "layernorm_after"}) {
      out.push_back({layer + norm + ".weight", {h}, hs});
      out.push_back({layer + norm + ".bias", {h}, hs});
    }
  }
  out.push_back({p + ".layernorm.weight", {h}, hs});
  out.push_back({p + ".layernorm.bias", {h}, hs});
  const int64_t labels = config.num_labels();
  const std::string ls = fmt::format("{} labels in id2label, {}", labels, hs);
  const std::string ls_bias = fmt::format("{} labels in id2label", labels);
  if (config.architecture == VitArchitecture::kDeiTWithTeacher) {
    for (const char* head : {"cls_classifier", "distillation_classifier"}) {
      out.push_back({std::string(head) + ".weight", {labels, h}, ls});
      out.push_back({std::string(head) + ".bias", {labels}, ls_bias});
    }
  } else {
    out.push_back({"classifier.weight", {labels, h}, ls});
    out.push_back({"classifier.bias", {labels}, ls_bias});
  }
  return out;
}

int64_t CountParameters(const ViTConfig& config) {
  int64_t total = 0;
  for (const ExpectedTensor& t : ExpectedTensors(config)) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    total += n;
  }
  return total;
}

absl::Status CheckTensors(const SafetensorsHeader& header, const ViTConfig& config,
                          const std::string& weights_source, const std::string& config_source) {
  const std::string prefix = TensorPrefix(config) + ".";
  for (const ExpectedTensor& expected : ExpectedTensors(config)) {
    const TensorInfo* tensor = header.Find(expected.name);
    if (tensor == nullptr) {
      std::string hint;
      const std::string other = config.architecture == VitArchitecture::kViT ? "deit." : "vit.";
      for (const TensorInfo& t : header.tensors()) {
        if (t.name.rfind(other, 0) == 0) {
          hint = fmt::format(
              " (its tensors are named \"{}*\": does \"architectures\" in {} "
              "match the weights?)",
              other, config_source);
          break;
        }
      }
      if (hint.empty() && expected.name.rfind("classifier", 0) == 0) {
        hint = " (a base model without a classification head cannot classify)";
      }
      return absl::InvalidArgumentError(
          fmt::format("{}: missing tensor \"{}\" that {} ({}) needs{}", weights_source,
                      expected.name, config_source, ArchitectureName(config.architecture), hint));
    }
    if (tensor->shape != expected.shape) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: tensor \"{}\" has shape {} but {} implies {} ({})", weights_source, expected.name,
          tensor->ShapeString(), config_source, ShapeString(expected.shape), expected.derivation));
    }
    if (!IsFloatWeightDtype(tensor->dtype)) {
      return absl::InvalidArgumentError(
          fmt::format("{}: tensor \"{}\" has dtype {}; the engine loads F32, F16 and BF16 weights",
                      weights_source, expected.name, DtypeName(tensor->dtype)));
    }
  }
  const std::string extra_layer =
      fmt::format("{}encoder.layer.{}.", prefix, config.num_hidden_layers);
  for (const TensorInfo& t : header.tensors()) {
    if (t.name.rfind(extra_layer, 0) == 0) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: tensor \"{}\" belongs to an encoder layer beyond num_hidden_layers {} in {}",
          weights_source, t.name, config.num_hidden_layers, config_source));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::span<const float>> WeightReader::Read(const std::string& name) {
  const TensorInfo* tensor = file_.header().Find(name);
  if (tensor == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("{}: missing tensor \"{}\"", file_.path().string(), name));
  }
  std::span<const float> direct = file_.DirectF32(*tensor);
  if (!direct.empty() || tensor->num_elements() == 0) return direct;
  buffer_.resize(static_cast<size_t>(tensor->num_elements()));
  absl::Status status = file_.ReadF32(*tensor, buffer_);
  if (!status.ok()) return status;
  return std::span<const float>(buffer_);
}

}  // namespace tessera::engine
