#include "serving/predict/kserve_v2_json.h"

#include "common/base64.h"
#include "common/status_macros.h"
#include "common/untrusted_json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::serving::kserve {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

// A non-negative integer field of a "parameters" object, or nullopt when absent.
absl::StatusOr<std::optional<int64_t>> IntParameter(const json& parameters, const char* name,
                                                    std::string_view where) {
  auto it = parameters.find(name);
  if (it == parameters.end()) return std::nullopt;
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX})) {
    return Invalid(fmt::format("{}.parameters.{} must be an integer in int64 range, got {}", where,
                               name, JsonPreview(*it)));
  }
  return it->get<int64_t>();
}

absl::StatusOr<bool> BoolParameter(const json& parameters, const char* name, bool fallback,
                                   std::string_view where) {
  auto it = parameters.find(name);
  if (it == parameters.end()) return fallback;
  if (!it->is_boolean()) {
    return Invalid(fmt::format("{}.parameters.{} must be true or false", where, name));
  }
  return it->get<bool>();
}

const json& ParametersOf(const json& object, std::string_view where, absl::Status& error) {
  static const json kEmpty = json::object();
  auto it = object.find("parameters");
  if (it == object.end() || it->is_null()) return kEmpty;
  if (!it->is_object()) error = Invalid(fmt::format("{}.parameters must be an object", where));
  return it->is_object() ? *it : kEmpty;
}

// Row-major flattening of a nested JSON list of strings; an explicit stack, no recursion, so
// the walk is safe whatever the nesting (kPredictJsonLimits already bounds it).
absl::Status FlattenStrings(const json& data, std::vector<const std::string*>& out) {
  std::vector<std::pair<const json*, size_t>> stack;  // an array and its next element
  const json* value = &data;
  while (true) {
    if (value->is_string()) {
      out.push_back(&value->get_ref<const std::string&>());
    } else if (value->is_array()) {
      stack.emplace_back(value, 0);
    } else {
      return Invalid(
          fmt::format("BYTES data must hold strings (base64 images), got {}", value->type_name()));
    }
    while (!stack.empty() && stack.back().second == stack.back().first->size()) stack.pop_back();
    if (stack.empty()) return absl::OkStatus();
    value = &(*stack.back().first)[stack.back().second++];
  }
}

absl::StatusOr<InputSpec> SpecOf(const json& input) {
  InputSpec spec;
  auto name = input.find("name");
  auto datatype = input.find("datatype");
  auto shape = input.find("shape");
  if (name == input.end() || !name->is_string()) return Invalid("inputs[0].name is required");
  if (datatype == input.end() || !datatype->is_string()) {
    return Invalid("inputs[0].datatype is required");
  }
  if (shape == input.end() || !shape->is_array()) return Invalid("inputs[0].shape is required");
  spec.name = name->get<std::string>();
  spec.datatype = datatype->get<std::string>();
  for (const json& dim : *shape) {
    if (!dim.is_number_integer() ||
        (dim.is_number_unsigned() && dim.get<uint64_t>() > uint64_t{INT64_MAX})) {
      return Invalid(fmt::format(
          "inputs[0].shape must be a list of integers in int64 range, got {}", JsonPreview(dim)));
    }
    spec.shape.push_back(dim.get<int64_t>());
  }
  return spec;
}

absl::StatusOr<std::vector<std::string>> ImagesOf(const json& input, size_t count,
                                                  std::optional<int64_t> binary_size,
                                                  std::string_view& binary) {
  if (binary_size) {
    if (input.contains("data")) {
      return Invalid("inputs[0] has both \"data\" and parameters.binary_data_size");
    }
    if (*binary_size < 0 || static_cast<uint64_t>(*binary_size) > binary.size()) {
      return Invalid(fmt::format(
          "inputs[0].parameters.binary_data_size is {}, but {} bytes of binary data follow the "
          "JSON header",
          *binary_size, binary.size()));
    }
    std::string_view raw = binary.substr(0, static_cast<size_t>(*binary_size));
    binary.remove_prefix(raw.size());
    return SplitBytesTensor(raw, count);
  }
  auto data = input.find("data");
  if (data == input.end()) {
    return Invalid("inputs[0] has no \"data\" (and no parameters.binary_data_size)");
  }
  std::vector<const std::string*> strings;
  RETURN_IF_ERROR(FlattenStrings(*data, strings));
  if (strings.size() != count) {
    return Invalid(
        fmt::format("inputs[0].data holds {} elements; its shape says {}", strings.size(), count));
  }
  std::vector<std::string> images;
  images.reserve(count);
  for (size_t i = 0; i < strings.size(); ++i) {
    absl::StatusOr<std::string> bytes = Base64Decode(*strings[i]);
    if (!bytes.ok()) {
      return Invalid(fmt::format(
          "inputs[0].data[{}] is not base64 ({}); in JSON each BYTES element is the base64 of an "
          "image, or send binary data (Inference-Header-Content-Length)",
          i, std::string(bytes.status().message())));
    }
    images.push_back(std::move(*bytes));
  }
  return images;
}

absl::StatusOr<std::vector<RestInferRequest::Output>> OutputsOf(const json& body,
                                                                bool binary_default) {
  std::vector<RestInferRequest::Output> outputs;
  auto requested = body.find("outputs");
  if (requested == body.end() || requested->is_null() ||
      (requested->is_array() && requested->empty())) {
    outputs.push_back({kLabelOutput, binary_default});
    outputs.push_back({kConfidenceOutput, binary_default});
    return outputs;
  }
  if (!requested->is_array()) return Invalid("\"outputs\" must be a list");
  for (size_t i = 0; i < requested->size(); ++i) {
    const json& output = (*requested)[i];
    const std::string where = fmt::format("outputs[{}]", i);
    if (!output.is_object() || !output.contains("name") || !output["name"].is_string()) {
      return Invalid(where + ".name is required");
    }
    const std::string name = output["name"].get<std::string>();
    RETURN_IF_ERROR(CheckOutputName(name));
    absl::Status error;
    const json& parameters = ParametersOf(output, where, error);
    RETURN_IF_ERROR(error);
    ASSIGN_OR_RETURN(bool binary, BoolParameter(parameters, "binary_data", binary_default, where));
    outputs.push_back({name, binary});
  }
  return outputs;
}

}  // namespace

absl::StatusOr<RestInferRequest> ParseRestInferRequest(std::string_view body,
                                                       std::optional<size_t> header_length,
                                                       const std::string& input_key) {
  std::string_view header = body;
  std::string_view binary;
  if (header_length) {
    if (*header_length > body.size()) {
      return Invalid(fmt::format("{} is {} but the body has only {} bytes", kHeaderLengthHeader,
                                 *header_length, body.size()));
    }
    header = body.substr(0, *header_length);
    binary = body.substr(*header_length);
  }
  ASSIGN_OR_RETURN(json request, ParseUntrustedJson(header, kPredictJsonLimits));
  if (!request.is_object()) return Invalid("the inference request must be a JSON object");
  RestInferRequest out;
  if (auto id = request.find("id"); id != request.end()) {
    if (!id->is_string()) return Invalid("\"id\" must be a string");
    out.id = id->get<std::string>();
  }
  absl::Status error;
  const json& parameters = ParametersOf(request, "request", error);
  RETURN_IF_ERROR(error);
  ASSIGN_OR_RETURN(std::optional<int64_t> top_k, IntParameter(parameters, "top_k", "request"));
  if (top_k) {
    ASSIGN_OR_RETURN(out.parameters.top_k, TopKFrom(*top_k));
  }
  if (parameters.contains("confidence_threshold")) {
    return Invalid(
        "parameter confidence_threshold is not supported by KServe v2 (rows would be ragged); use "
        "top_k, or Vertex :predict");
  }
  ASSIGN_OR_RETURN(bool binary_output,
                   BoolParameter(parameters, "binary_data_output", false, "request"));

  auto inputs = request.find("inputs");
  if (inputs == request.end() || !inputs->is_array() || inputs->size() != 1 ||
      !(*inputs)[0].is_object()) {
    return Invalid(fmt::format(
        "\"inputs\" must be a list of one tensor: the model's input \"{}\" (BYTES)", input_key));
  }
  const json& input = (*inputs)[0];
  ASSIGN_OR_RETURN(InputSpec spec, SpecOf(input));
  ASSIGN_OR_RETURN(size_t count, CheckImageInput(spec, input_key));
  const json& input_parameters = ParametersOf(input, "inputs[0]", error);
  RETURN_IF_ERROR(error);
  ASSIGN_OR_RETURN(std::optional<int64_t> binary_size,
                   IntParameter(input_parameters, "binary_data_size", "inputs[0]"));
  ASSIGN_OR_RETURN(out.images, ImagesOf(input, count, binary_size, binary));
  if (!binary.empty()) {
    return Invalid(
        fmt::format("{} bytes of binary data follow the inputs that claim any", binary.size()));
  }
  ASSIGN_OR_RETURN(out.outputs, OutputsOf(request, binary_output));
  return out;
}

RestInferResponse FormatRestInferResponse(const std::string& model_name,
                                          const std::string& model_version,
                                          const RestInferRequest& request, const Outputs& outputs) {
  ordered_json body;
  body["model_name"] = model_name;
  body["model_version"] = model_version;
  if (!request.id.empty()) body["id"] = request.id;
  ordered_json tensors = ordered_json::array();
  std::string binary;
  bool any_binary = false;
  for (const RestInferRequest::Output& output : request.outputs) {
    const bool is_label = output.name == kLabelOutput;
    ordered_json tensor;
    tensor["name"] = output.name;
    tensor["datatype"] = is_label ? "BYTES" : "FP32";
    tensor["shape"] = outputs.shape;
    if (output.binary) {
      const std::string raw =
          is_label ? JoinBytesTensor(outputs.labels) : Fp32Bytes(outputs.confidences);
      tensor["parameters"] = {{"binary_data_size", raw.size()}};
      binary += raw;
      any_binary = true;
    } else if (is_label) {
      tensor["data"] = outputs.labels;
    } else {
      tensor["data"] = outputs.confidences;
    }
    tensors.push_back(std::move(tensor));
  }
  body["outputs"] = std::move(tensors);
  RestInferResponse out;
  out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  if (any_binary) {
    out.header_length = out.body.size();
    out.body += binary;
  }
  return out;
}

}  // namespace tessera::serving::kserve
