// PreprocessConfig::FromJson / FromFile: preprocessor_config.json as transformers reads it for
// ViTImageProcessor and DeiTImageProcessor (see preprocess.h for the semantics).
#include <fstream>
#include <sstream>
#include <string>

#include "common/status_macros.h"
#include "engine/image/preprocess.h"
#include "engine/untrusted_json.h"
#include "fmt/format.h"

namespace tessera::engine {
namespace {

using nlohmann::json;

absl::Status KeyError(std::string_view key, std::string_view problem) {
  return absl::InvalidArgumentError(fmt::format("\"{}\": {}", key, problem));
}

std::string Describe(const json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return fmt::format("{} {}", v.type_name(), text);
}

absl::Status ReadBool(const json& j, std::string_view key, bool* out) {
  const auto it = j.find(std::string(key));
  if (it == j.end()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return KeyError(key, fmt::format("must be true or false, got {}", Describe(*it)));
  }
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::StatusOr<int> ReadInt(const json& v, std::string_view key) {
  if (!v.is_number_integer()) {
    return KeyError(key, fmt::format("must be an integer, got {}", Describe(v)));
  }
  const int64_t value = v.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(
                                                     v.get<uint64_t>(), INT64_MAX))
                                               : v.get<int64_t>();
  if (value <= 0 || value > 16384) {
    return KeyError(key, fmt::format("must be between 1 and 16384, got {}", value));
  }
  return static_cast<int>(value);
}

// `size` / `crop_size`: an int (a square), [height, width], {"height", "width"}, or (when
// `shortest_edge` is non-null) {"shortest_edge"}. null keeps the defaults.
absl::Status ReadSize(const json& j, std::string_view key, int* height, int* width,
                      int* shortest_edge) {
  const auto it = j.find(std::string(key));
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  const json& v = *it;
  if (v.is_number_integer()) {
    ASSIGN_OR_RETURN(*height, ReadInt(v, key));
    *width = *height;
    if (shortest_edge != nullptr) *shortest_edge = 0;
    return absl::OkStatus();
  }
  if (v.is_array()) {
    if (v.size() != 2) {
      return KeyError(key, fmt::format("a list must be [height, width], got {}", Describe(v)));
    }
    ASSIGN_OR_RETURN(*height, ReadInt(v[0], fmt::format("{}[0]", key)));
    ASSIGN_OR_RETURN(*width, ReadInt(v[1], fmt::format("{}[1]", key)));
    if (shortest_edge != nullptr) *shortest_edge = 0;
    return absl::OkStatus();
  }
  if (!v.is_object()) {
    return KeyError(key, fmt::format("must be an integer, [height, width] or an object, got {}",
                                     Describe(v)));
  }
  if (v.size() == 2 && v.contains("height") && v.contains("width")) {
    ASSIGN_OR_RETURN(*height, ReadInt(v["height"], fmt::format("{}.height", key)));
    ASSIGN_OR_RETURN(*width, ReadInt(v["width"], fmt::format("{}.width", key)));
    if (shortest_edge != nullptr) *shortest_edge = 0;
    return absl::OkStatus();
  }
  if (shortest_edge != nullptr && v.size() == 1 && v.contains("shortest_edge")) {
    ASSIGN_OR_RETURN(*shortest_edge, ReadInt(v["shortest_edge"], fmt::format("{}.shortest_edge", key)));
    return absl::OkStatus();
  }
  std::string keys;
  for (const auto& [name, unused] : v.items()) keys += (keys.empty() ? "" : ", ") + name;
  return KeyError(key, fmt::format("unsupported keys {{{}}}; expected {{height, width}}{}", keys,
                                   shortest_edge != nullptr ? " or {shortest_edge}" : ""));
}

// image_mean / image_std: one number for all channels, or three. null keeps the default.
absl::Status ReadPerChannel(const json& j, std::string_view key, std::array<double, 3>* out) {
  const auto it = j.find(std::string(key));
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (it->is_number()) {
    out->fill(it->get<double>());
    return absl::OkStatus();
  }
  if (!it->is_array() || it->size() != 3) {
    return KeyError(key, fmt::format("must be a number or a list of 3 numbers (R, G, B), got {}",
                                     Describe(*it)));
  }
  for (int c = 0; c < 3; ++c) {
    if (!(*it)[c].is_number()) {
      return KeyError(key, fmt::format("element {} must be a number, got {}", c,
                                       Describe((*it)[c])));
    }
    (*out)[c] = (*it)[c].get<double>();
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageProcessorType> ReadProcessorType(const json& j) {
  // transformers' AutoImageProcessor prefers image_processor_type over the legacy key.
  for (const char* key : {"image_processor_type", "feature_extractor_type"}) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) {
      return KeyError(key, fmt::format("must be a string, got {}", Describe(*it)));
    }
    std::string name = it->get<std::string>();
    // Without use_fast, transformers loads the slow processor for a "...Fast" name.
    if (name.ends_with("Fast")) name.resize(name.size() - 4);
    if (name == "ViTImageProcessor" || name == "ViTFeatureExtractor") {
      return ImageProcessorType::kVit;
    }
    if (name == "DeiTImageProcessor" || name == "DeiTFeatureExtractor") {
      return ImageProcessorType::kDeit;
    }
    return KeyError(key, fmt::format("unsupported image processor \"{}\"; Tessera implements "
                                     "ViTImageProcessor and DeiTImageProcessor",
                                     it->get<std::string>()));
  }
  // No type: a crop step means DeiT-style preprocessing.
  return j.contains("do_center_crop") || j.contains("crop_size") ? ImageProcessorType::kDeit
                                                                  : ImageProcessorType::kVit;
}

}  // namespace

absl::StatusOr<PreprocessConfig> PreprocessConfig::FromJson(const json& j) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("a preprocessor config must be a JSON object, got {}", Describe(j)));
  }
  PreprocessConfig config;
  ASSIGN_OR_RETURN(config.processor_type, ReadProcessorType(j));
  const bool deit = config.processor_type == ImageProcessorType::kDeit;
  if (deit) {
    config.resize_height = config.resize_width = 256;
    config.resample = ResampleFilter::kBicubic;
    config.do_center_crop = true;
  }

  RETURN_IF_ERROR(ReadBool(j, "do_resize", &config.do_resize));
  RETURN_IF_ERROR(
      ReadSize(j, "size", &config.resize_height, &config.resize_width, &config.shortest_edge));
  if (const auto it = j.find("resample"); it != j.end()) {
    if (it->is_null()) {
      config.resample = ResampleFilter::kBilinear;  // transformers' resize() default for None
    } else if (!it->is_number_integer()) {
      return KeyError("resample", fmt::format("must be a PIL filter number, got {}",
                                              Describe(*it)));
    } else {
      const bool in_range = !it->is_number_unsigned() || it->get<uint64_t>() <= 5;
      const int64_t value = in_range ? it->get<int64_t>() : -1;
      if (value < 0 || value > 5) {
        return KeyError("resample",
                        fmt::format("unsupported filter {}; expected a PIL value: 0 nearest, "
                                    "1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming",
                                    it->dump()));
      }
      config.resample = static_cast<ResampleFilter>(value);
    }
  }
  if (deit) {  // ViTImageProcessor has no crop step: it ignores these keys
    RETURN_IF_ERROR(ReadBool(j, "do_center_crop", &config.do_center_crop));
    RETURN_IF_ERROR(
        ReadSize(j, "crop_size", &config.crop_height, &config.crop_width, nullptr));
  }
  RETURN_IF_ERROR(ReadBool(j, "do_rescale", &config.do_rescale));
  if (const auto it = j.find("rescale_factor"); it != j.end()) {
    if (!it->is_number()) {
      return KeyError("rescale_factor", fmt::format("must be a number, got {}", Describe(*it)));
    }
    config.rescale_factor = it->get<double>();
  }
  RETURN_IF_ERROR(ReadBool(j, "do_normalize", &config.do_normalize));
  RETURN_IF_ERROR(ReadPerChannel(j, "image_mean", &config.image_mean));
  RETURN_IF_ERROR(ReadPerChannel(j, "image_std", &config.image_std));
  RETURN_IF_ERROR(ReadBool(j, "do_convert_rgb", &config.do_convert_rgb));
  RETURN_IF_ERROR(config.Validate());
  return config;
}

absl::StatusOr<PreprocessConfig> PreprocessConfig::FromFile(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(fmt::format("{}: cannot open the file", path.string()));
  }
  std::stringstream text;
  text << file.rdbuf();
  bool too_deep = false;
  json j = ParseCheckpointJson(text.str(), too_deep);
  if (too_deep) {
    return absl::InvalidArgumentError(fmt::format("{}: JSON nested deeper than {} levels",
                                                  path.string(), kMaxCheckpointJsonDepth));
  }
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(fmt::format("{}: not valid JSON", path.string()));
  }
  auto config = FromJson(j);
  if (!config.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", path.string(), std::string(config.status().message())));
  }
  return config;
}

}  // namespace tessera::engine
