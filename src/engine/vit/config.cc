#include "engine/vit/config.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "common/status_macros.h"
#include "engine/untrusted_json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::engine {
namespace {

// Bounds that keep every derived size (tokens x hidden, workspace bytes) far from overflow and
// refuse configs no real checkpoint has.
constexpr int kMaxHiddenSize = 16384;
constexpr int kMaxLayers = 1024;
constexpr int kMaxIntermediateSize = 131072;
constexpr int kMaxImageSide = 8192;
constexpr int kMaxTokens = 65536;
constexpr int kMaxChannels = 64;
constexpr int kMaxLabels = 1 << 20;

absl::Status Invalid(const std::string& source, const std::string& message) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", source, message));
}

// Reads a required positive integer `key` no larger than `max_value`.
absl::StatusOr<int> PositiveInt(const nlohmann::json& json, const char* key, int max_value,
                                const std::string& source) {
  auto it = json.find(key);
  if (it == json.end()) return Invalid(source, fmt::format("missing \"{}\"", key));
  if (!it->is_number_integer()) {
    return Invalid(source, fmt::format("\"{}\" must be an integer, got {}", key, it->dump()));
  }
  int64_t value = it->get<int64_t>();
  if (value <= 0 || value > max_value) {
    return Invalid(source,
                   fmt::format("\"{}\" = {} is out of range [1, {}]", key, value, max_value));
  }
  return static_cast<int>(value);
}

// `image_size` and `patch_size` are an int or a [height, width] pair.
absl::Status HeightWidth(const nlohmann::json& json, const char* key, int max_value,
                         const std::string& source, int* height, int* width) {
  auto it = json.find(key);
  if (it == json.end()) return Invalid(source, fmt::format("missing \"{}\"", key));
  if (it->is_array()) {
    if (it->size() != 2 || !(*it)[0].is_number_integer() || !(*it)[1].is_number_integer()) {
      return Invalid(source, fmt::format("\"{}\" must be an integer or [height, width], got {}",
                                         key, it->dump()));
    }
    nlohmann::json pair = {{"h", (*it)[0]}, {"w", (*it)[1]}};
    ASSIGN_OR_RETURN(*height, PositiveInt(pair, "h", max_value, source + " " + key));
    ASSIGN_OR_RETURN(*width, PositiveInt(pair, "w", max_value, source + " " + key));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(*height, PositiveInt(json, key, max_value, source));
  *width = *height;
  return absl::OkStatus();
}

absl::StatusOr<VitArchitecture> ParseArchitecture(const nlohmann::json& json,
                                                  const std::string& source) {
  auto it = json.find("architectures");
  if (it == json.end() || !it->is_array() || it->empty() || !(*it)[0].is_string()) {
    return Invalid(source, "missing \"architectures\" (e.g. [\"ViTForImageClassification\"])");
  }
  const std::string name = (*it)[0].get<std::string>();
  for (VitArchitecture a :
       {VitArchitecture::kViT, VitArchitecture::kDeiT, VitArchitecture::kDeiTWithTeacher}) {
    if (name == ArchitectureName(a)) return a;
  }
  return absl::InvalidArgumentError(
      fmt::format("{}: unsupported architecture \"{}\" (supported: ViTForImageClassification, "
                  "DeiTForImageClassification, DeiTForImageClassificationWithTeacher)",
                  source, name));
}

absl::StatusOr<Activation> ParseActivation(const nlohmann::json& json, const std::string& source) {
  auto it = json.find("hidden_act");
  if (it == json.end()) return Activation::kGeluErf;  // transformers' default
  if (!it->is_string()) {
    return Invalid(source, fmt::format("\"hidden_act\" must be a string, got {}", it->dump()));
  }
  const std::string name = it->get<std::string>();
  if (name == "gelu") return Activation::kGeluErf;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") {
    return Activation::kGeluTanh;
  }
  if (name == "relu") return Activation::kRelu;
  if (name == "silu" || name == "swish") return Activation::kSilu;
  return Invalid(source, fmt::format("unsupported \"hidden_act\" \"{}\" (supported: gelu, "
                                     "gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu, swish)",
                                     name));
}

absl::StatusOr<std::vector<std::string>> ParseLabels(const nlohmann::json& json,
                                                     const std::string& source) {
  auto it = json.find("id2label");
  size_t count = 0;
  if (it == json.end() || it->is_null()) {
    auto n = json.find("num_labels");
    if (n == json.end()) {
      count = 2;  // transformers' PretrainedConfig default
    } else {
      ASSIGN_OR_RETURN(int value, PositiveInt(json, "num_labels", kMaxLabels, source));
      count = static_cast<size_t>(value);
    }
    std::vector<std::string> labels(count);
    for (size_t i = 0; i < count; ++i) labels[i] = fmt::format("LABEL_{}", i);
    return labels;
  }
  if (!it->is_object()) return Invalid(source, "\"id2label\" must be an object {\"0\": label}");
  count = it->size();
  if (count == 0) return Invalid(source, "\"id2label\" is empty (the model has no labels)");
  if (count > static_cast<size_t>(kMaxLabels)) {
    return Invalid(source, fmt::format("\"id2label\" has {} labels (max {})", count, kMaxLabels));
  }
  std::vector<std::string> labels(count);
  std::vector<bool> seen(count, false);
  for (const auto& [key, value] : it->items()) {
    size_t index = 0;
    size_t used = 0;
    try {
      index = std::stoul(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || key.empty() || index >= count) {
      return Invalid(source,
                     fmt::format("\"id2label\" key \"{}\" is not an index in [0, {})", key, count));
    }
    if (seen[index]) return Invalid(source, fmt::format("\"id2label\" repeats index {}", index));
    seen[index] = true;
    labels[index] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return labels;
}

}  // namespace

const char* ArchitectureName(VitArchitecture architecture) {
  switch (architecture) {
    case VitArchitecture::kViT:
      return "ViTForImageClassification";
    case VitArchitecture::kDeiT:
      return "DeiTForImageClassification";
    case VitArchitecture::kDeiTWithTeacher:
      return "DeiTForImageClassificationWithTeacher";
  }
  return "unknown";
}

const char* ActivationName(Activation activation) {
  switch (activation) {
    case Activation::kGeluErf:
      return "gelu";
    case Activation::kGeluTanh:
      return "gelu_pytorch_tanh";
    case Activation::kRelu:
      return "relu";
    case Activation::kSilu:
      return "silu";
  }
  return "unknown";
}

absl::StatusOr<ViTConfig> ParseViTConfig(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) return Invalid(source, "config must be a JSON object");
  ViTConfig config;
  ASSIGN_OR_RETURN(config.architecture, ParseArchitecture(json, source));
  if (auto it = json.find("model_type"); it != json.end() && it->is_string()) {
    config.model_type = it->get<std::string>();
  }
  ASSIGN_OR_RETURN(config.hidden_size, PositiveInt(json, "hidden_size", kMaxHiddenSize, source));
  ASSIGN_OR_RETURN(config.num_hidden_layers,
                   PositiveInt(json, "num_hidden_layers", kMaxLayers, source));
  ASSIGN_OR_RETURN(config.num_attention_heads,
                   PositiveInt(json, "num_attention_heads", kMaxHiddenSize, source));
  ASSIGN_OR_RETURN(config.intermediate_size,
                   PositiveInt(json, "intermediate_size", kMaxIntermediateSize, source));
  RETURN_IF_ERROR(HeightWidth(json, "image_size", kMaxImageSide, source, &config.image_height,
                              &config.image_width));
  RETURN_IF_ERROR(HeightWidth(json, "patch_size", kMaxImageSide, source, &config.patch_height,
                              &config.patch_width));
  if (json.contains("num_channels")) {
    ASSIGN_OR_RETURN(config.num_channels, PositiveInt(json, "num_channels", kMaxChannels, source));
  }
  if (auto it = json.find("layer_norm_eps"); it != json.end()) {
    if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 1) {
      return Invalid(
          source, fmt::format("\"layer_norm_eps\" must be a number in (0, 1], got {}", it->dump()));
    }
    config.layer_norm_eps = static_cast<float>(it->get<double>());
  }
  if (auto it = json.find("qkv_bias"); it != json.end()) {
    if (!it->is_boolean()) {
      return Invalid(source, fmt::format("\"qkv_bias\" must be true or false, got {}", it->dump()));
    }
    config.qkv_bias = it->get<bool>();
  }
  ASSIGN_OR_RETURN(config.hidden_act, ParseActivation(json, source));
  ASSIGN_OR_RETURN(config.labels, ParseLabels(json, source));

  if (config.hidden_size % config.num_attention_heads != 0) {
    return Invalid(source, fmt::format("\"hidden_size\" {} is not divisible by "
                                       "\"num_attention_heads\" {}",
                                       config.hidden_size, config.num_attention_heads));
  }
  if (config.patch_height > config.image_height || config.patch_width > config.image_width) {
    return Invalid(source, fmt::format("\"patch_size\" {}x{} is larger than \"image_size\" {}x{}",
                                       config.patch_height, config.patch_width, config.image_height,
                                       config.image_width));
  }
  if (config.num_tokens() > kMaxTokens) {
    return Invalid(source, fmt::format("image {}x{} with patch {}x{} makes {} tokens (max {})",
                                       config.image_height, config.image_width, config.patch_height,
                                       config.patch_width, config.num_tokens(), kMaxTokens));
  }
  return config;
}

absl::StatusOr<ViTConfig> LoadViTConfig(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  bool too_deep = false;
  nlohmann::json json = ParseCheckpointJson(text.str(), too_deep);
  if (too_deep) {
    return absl::InvalidArgumentError(fmt::format("{}: JSON nested deeper than {} levels",
                                                  path.string(), kMaxCheckpointJsonDepth));
  }
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(fmt::format("{}: not valid JSON", path.string()));
  }
  return ParseViTConfig(json, path.string());
}

}  // namespace tessera::engine
