#include "runtime/predict_codec.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/base64.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::runtime {
namespace {

using nlohmann::json;

// The value of `snake` or `camel` in `object` (at most one of them may be given), or nullptr.
absl::StatusOr<const json*> OneOf(const json& object, const char* snake, const char* camel) {
  const auto a = object.find(snake);
  const auto b = object.find(camel);
  if (a != object.end() && b != object.end()) {
    return absl::InvalidArgumentError(
        fmt::format("parameters: give \"{}\" or \"{}\", not both", snake, camel));
  }
  if (a != object.end()) return &*a;
  if (b != object.end()) return &*b;
  return nullptr;
}

absl::StatusOr<int> TopKFromJson(const json& value, const char* name) {
  double v = 0;
  if (value.is_number_integer() || value.is_number_unsigned()) {
    v = value.get<double>();
  } else if (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>()) {
    v = value.get<double>();
  } else {
    return absl::InvalidArgumentError(
        fmt::format("parameters.{} must be a positive integer, got {}", name, value.dump()));
  }
  if (v < 1 || v > 1'000'000) {
    return absl::InvalidArgumentError(
        fmt::format("parameters.{} must be between 1 and 1000000, got {}", name, value.dump()));
  }
  return static_cast<int>(v);
}

absl::StatusOr<float> ThresholdFromNumber(double v, std::string_view text, const char* name) {
  if (!std::isfinite(v) || v < 0 || v > 1) {
    return absl::InvalidArgumentError(
        fmt::format("parameters.{} must be a number between 0 and 1, got {}", name, text));
  }
  return static_cast<float>(v);
}

absl::StatusOr<std::string> DecodeB64(const json& value, size_t index) {
  if (!value.is_string()) {
    return absl::InvalidArgumentError(
        fmt::format("instance {}: \"b64\" must be a string, got {}", index, value.type_name()));
  }
  const std::string& text = value.get_ref<const std::string&>();
  if (text.empty()) {
    return absl::InvalidArgumentError(fmt::format("instance {}: \"b64\" is empty", index));
  }
  auto bytes = Base64Decode(text);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(fmt::format("instance {}: \"b64\" is not valid base64: {}",
                                                  index, std::string(bytes.status().message())));
  }
  return bytes;
}

// The encoded image of one instance.
absl::StatusOr<std::string> ParseInstance(const json& instance, size_t index,
                                          const std::string& input_key) {
  if (instance.is_string()) {
    auto bytes = Base64Decode(instance.get_ref<const std::string&>());
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(fmt::format("instance {}: not valid base64: {}", index,
                                                    std::string(bytes.status().message())));
    }
    if (bytes->empty()) return absl::InvalidArgumentError(fmt::format("instance {}: empty", index));
    return bytes;
  }
  const std::string expected = fmt::format(
      "expected {{\"{}\": {{\"b64\": \"...\"}}}}, {{\"b64\": \"...\"}} or a base64 string",
      input_key);
  if (!instance.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("instance {}: {}, got {}", index, expected, instance.type_name()));
  }
  if (instance.size() == 1 && instance.contains("b64")) return DecodeB64(instance["b64"], index);
  const auto keyed = instance.find(input_key);
  if (instance.size() == 1 && keyed != instance.end()) {
    if (!keyed->is_object() || keyed->size() != 1 || !keyed->contains("b64")) {
      return absl::InvalidArgumentError(fmt::format(
          "instance {}: \"{}\" must be {{\"b64\": \"...\"}} (base64-encoded image bytes)", index,
          input_key));
    }
    return DecodeB64((*keyed)["b64"], index);
  }
  std::string keys;
  for (const auto& [key, unused] : instance.items()) {
    if (!keys.empty()) keys += ", ";
    keys += "\"" + key + "\"";
  }
  return absl::InvalidArgumentError(
      fmt::format("instance {}: {}, got an object with keys [{}]", index, expected, keys));
}

}  // namespace

absl::StatusOr<PredictParameters> ParsePredictParameters(const json& parameters) {
  PredictParameters out;
  if (parameters.is_null()) return out;
  if (!parameters.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("\"parameters\" must be an object, got {}", parameters.type_name()));
  }
  ASSIGN_OR_RETURN(const json* top_k, OneOf(parameters, "top_k", "topK"));
  if (top_k != nullptr) {
    ASSIGN_OR_RETURN(out.top_k, TopKFromJson(*top_k, "top_k"));
  }
  ASSIGN_OR_RETURN(const json* threshold,
                   OneOf(parameters, "confidence_threshold", "confidenceThreshold"));
  if (threshold != nullptr) {
    if (!threshold->is_number()) {
      return absl::InvalidArgumentError(
          fmt::format("parameters.confidence_threshold must be a number between 0 and 1, got {}",
                      threshold->dump()));
    }
    ASSIGN_OR_RETURN(
        out.confidence_threshold,
        ThresholdFromNumber(threshold->get<double>(), threshold->dump(), "confidence_threshold"));
  }
  return out;
}

absl::StatusOr<PredictParameters> ParsePredictQuery(
    const std::optional<std::string>& top_k, const std::optional<std::string>& top_k_camel,
    const std::optional<std::string>& threshold,
    const std::optional<std::string>& threshold_camel) {
  if ((top_k && top_k_camel) || (threshold && threshold_camel)) {
    return absl::InvalidArgumentError(
        "give top_k or topK (and confidence_threshold or confidenceThreshold), not both");
  }
  PredictParameters out;
  if (const auto& k = top_k ? top_k : top_k_camel) {
    int value = 0;
    const auto [end, ec] = std::from_chars(k->data(), k->data() + k->size(), value);
    if (ec != std::errc() || end != k->data() + k->size() || value < 1 || value > 1'000'000) {
      return absl::InvalidArgumentError(
          fmt::format("top_k must be an integer between 1 and 1000000, got \"{}\"", *k));
    }
    out.top_k = value;
  }
  if (const auto& t = threshold ? threshold : threshold_camel) {
    char* end = nullptr;
    const double value = std::strtod(t->c_str(), &end);
    if (t->empty() || end != t->c_str() + t->size()) {
      return absl::InvalidArgumentError(
          fmt::format("confidence_threshold must be a number between 0 and 1, got \"{}\"", *t));
    }
    ASSIGN_OR_RETURN(out.confidence_threshold,
                     ThresholdFromNumber(value, "\"" + *t + "\"", "confidence_threshold"));
  }
  return out;
}

absl::StatusOr<ParsedPredictRequest> ParsePredictRequest(std::string_view body,
                                                         const PredictCodecOptions& options) {
  json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) {
    return absl::InvalidArgumentError("the request body is not valid JSON");
  }
  if (!request.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("the request body must be a JSON object {{\"instances\": [...]}}, got {}",
                    request.type_name()));
  }
  std::string input_key = options.input_key;
  if (const auto key = request.find("inputKey"); key != request.end() && !key->is_null()) {
    if (!key->is_string() || key->get_ref<const std::string&>().empty()) {
      return absl::InvalidArgumentError("\"inputKey\" must be a non-empty string");
    }
    input_key = key->get<std::string>();
  }
  const auto instances = request.find("instances");
  if (instances == request.end()) {
    return absl::InvalidArgumentError("the request has no \"instances\" field");
  }
  if (!instances->is_array()) {
    return absl::InvalidArgumentError(
        fmt::format("\"instances\" must be an array, got {}", instances->type_name()));
  }
  if (instances->empty()) return absl::InvalidArgumentError("\"instances\" is empty");
  if (static_cast<int64_t>(instances->size()) > options.max_instances) {
    return absl::InvalidArgumentError(
        fmt::format("the request has {} instances; at most {} are allowed per request",
                    instances->size(), options.max_instances));
  }
  ParsedPredictRequest out;
  const auto parameters = request.find("parameters");
  if (parameters != request.end()) {
    ASSIGN_OR_RETURN(out.parameters, ParsePredictParameters(*parameters));
  }
  out.images.reserve(instances->size());
  for (size_t i = 0; i < instances->size(); ++i) {
    ASSIGN_OR_RETURN(std::string image, ParseInstance((*instances)[i], i, input_key));
    out.images.push_back(std::move(image));
  }
  return out;
}

json PredictionToJson(const std::vector<engine::Prediction>& top,
                      const PredictParameters& parameters) {
  if (parameters.top_k == 1 && !parameters.confidence_threshold.has_value() && !top.empty()) {
    return json{{"label", top[0].label}, {"confidence", top[0].confidence}};
  }
  json labels = json::array();
  json confidences = json::array();
  for (const engine::Prediction& p : top) {
    if (parameters.confidence_threshold && p.confidence < *parameters.confidence_threshold) break;
    labels.push_back(p.label);
    confidences.push_back(p.confidence);
  }
  return json{{"labels", std::move(labels)}, {"confidences", std::move(confidences)}};
}

}  // namespace tessera::runtime
