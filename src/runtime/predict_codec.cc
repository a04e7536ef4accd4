#include "runtime/predict_codec.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/base64.h"
#include "common/status_macros.h"
#include "common/untrusted_json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

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
        fmt::format("parameters.{} must be a positive integer, got {}", name, JsonPreview(value)));
  }
  if (v < 1 || v > 1'000'000) {
    return absl::InvalidArgumentError(fmt::format(
        "parameters.{} must be between 1 and 1000000, got {}", name, JsonPreview(value)));
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

// Request bodies are parsed with simdjson: a body is mostly base64 strings of hundreds of KiB,
// which nlohmann::json lexes a character at a time (measured: JSON parsing was 40% of the CPU of
// a served fashion-vit prediction). Only "parameters" (small) goes through nlohmann::json.
using Element = simdjson::dom::element;

// nlohmann::json's type names, so messages read the same whichever parser saw the value.
const char* TypeName(const Element& e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "number";
  }
}

absl::StatusOr<std::string> DecodeB64(const Element& value, size_t index) {
  if (!value.is_string()) {
    return absl::InvalidArgumentError(
        fmt::format("instance {}: \"b64\" must be a string, got {}", index, TypeName(value)));
  }
  const std::string_view text = value.get_string().value_unsafe();
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

// The value of the only key of `object` when it is `key`, else nullopt.
std::optional<Element> OnlyKey(const simdjson::dom::object& object, std::string_view key) {
  if (object.size() != 1) return std::nullopt;
  const auto [only_key, value] = *object.begin();
  if (only_key != key) return std::nullopt;
  return value;
}

// The encoded image of one instance.
absl::StatusOr<std::string> ParseInstance(const Element& instance, size_t index,
                                          const std::string& input_key) {
  if (instance.is_string()) {
    auto bytes = Base64Decode(instance.get_string().value_unsafe());
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
        fmt::format("instance {}: {}, got {}", index, expected, TypeName(instance)));
  }
  const simdjson::dom::object object = instance.get_object().value_unsafe();
  if (std::optional<Element> b64 = OnlyKey(object, "b64")) return DecodeB64(*b64, index);
  if (std::optional<Element> keyed = OnlyKey(object, input_key)) {
    std::optional<Element> b64;
    if (keyed->is_object()) b64 = OnlyKey(keyed->get_object().value_unsafe(), "b64");
    if (!b64) {
      return absl::InvalidArgumentError(fmt::format(
          "instance {}: \"{}\" must be {{\"b64\": \"...\"}} (base64-encoded image bytes)", index,
          input_key));
    }
    return DecodeB64(*b64, index);
  }
  std::string keys;
  for (const auto [key, unused] : object) {
    if (!keys.empty()) keys += ", ";
    keys += "\"" + std::string(key) + "\"";
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
                      JsonPreview(*threshold)));
    }
    ASSIGN_OR_RETURN(out.confidence_threshold,
                     ThresholdFromNumber(threshold->get<double>(), JsonPreview(*threshold),
                                         "confidence_threshold"));
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

absl::StatusOr<ParsedPredictRequest> ParsePredictRequest(const std::string& body,
                                                         const PredictCodecOptions& options) {
  JsonDomParser parser;  // the elements below point into it
  Element request;
  RETURN_IF_ERROR(parser.Parse(body, kPredictJsonLimits, request));
  if (!request.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("the request body must be a JSON object {{\"instances\": [...]}}, got {}",
                    TypeName(request)));
  }
  const simdjson::dom::object object = request.get_object().value_unsafe();
  std::string input_key = options.input_key;
  Element key;
  if (object.at_key("inputKey").get(key) == simdjson::SUCCESS && !key.is_null()) {
    if (!key.is_string() || key.get_string().value_unsafe().empty()) {
      return absl::InvalidArgumentError("\"inputKey\" must be a non-empty string");
    }
    input_key = std::string(key.get_string().value_unsafe());
  }
  Element instances_element;
  if (object.at_key("instances").get(instances_element) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("the request has no \"instances\" field");
  }
  if (!instances_element.is_array()) {
    return absl::InvalidArgumentError(
        fmt::format("\"instances\" must be an array, got {}", TypeName(instances_element)));
  }
  const simdjson::dom::array instances = instances_element.get_array().value_unsafe();
  if (instances.size() == 0) return absl::InvalidArgumentError("\"instances\" is empty");
  if (static_cast<int64_t>(instances.size()) > options.max_instances) {
    return absl::InvalidArgumentError(
        fmt::format("the request has {} instances; at most {} are allowed per request",
                    instances.size(), options.max_instances));
  }
  ParsedPredictRequest out;
  Element parameters;
  if (object.at_key("parameters").get(parameters) == simdjson::SUCCESS) {
    // Re-read by nlohmann::json: text simdjson wrote from a document within kPredictJsonLimits.
    ASSIGN_OR_RETURN(json parsed,
                     ParseUntrustedJson(simdjson::to_string(parameters), kPredictJsonLimits));
    ASSIGN_OR_RETURN(out.parameters, ParsePredictParameters(parsed));
  }
  out.images.reserve(instances.size());
  size_t index = 0;
  for (const Element instance : instances) {
    ASSIGN_OR_RETURN(std::string image, ParseInstance(instance, index++, input_key));
    out.images.push_back(std::move(image));
  }
  return out;
}

nlohmann::ordered_json PredictionToJson(const std::vector<engine::Prediction>& top,
                                        const PredictParameters& parameters) {
  using ordered = nlohmann::ordered_json;
  if (parameters.top_k == 1 && !parameters.confidence_threshold.has_value() && !top.empty()) {
    return ordered{{"label", top[0].label}, {"confidence", top[0].confidence}};
  }
  ordered labels = ordered::array();
  ordered confidences = ordered::array();
  for (const engine::Prediction& p : top) {
    if (parameters.confidence_threshold && p.confidence < *parameters.confidence_threshold) break;
    labels.push_back(p.label);
    confidences.push_back(p.confidence);
  }
  return ordered{{"labels", std::move(labels)}, {"confidences", std::move(confidences)}};
}

}  // namespace tessera::runtime
