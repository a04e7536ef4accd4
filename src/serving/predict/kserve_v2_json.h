// The KServe v2 REST body of /infer, both ways, including Triton's binary tensor data extension
// (what tritonclient[http] sends by default): a JSON header of Inference-Header-Content-Length
// bytes, then the raw data of each tensor whose parameters give "binary_data_size", in order.
//
// Request: {"id"?, "parameters"? {"top_k", "binary_data_output"}, "inputs": [one input, see
// kserve_v2.h], "outputs"? [{"name", "parameters"? {"binary_data": bool}}]}. In JSON, BYTES data
// is a (possibly nested) list of strings, each the base64 of one image; in binary form, the BYTES
// tensor format (4-byte little-endian length + bytes per element).
//
// Response: {"model_name", "model_version", "id"?, "outputs": [{"name", "datatype", "shape",
// "data" | "parameters": {"binary_data_size"}}]}: the requested outputs (both when none are
// named), binary when asked for. Pure functions; errors are INVALID_ARGUMENT naming the field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "serving/predict/classification.h"
#include "serving/predict/kserve_v2.h"

namespace tessera::serving::kserve {

inline constexpr char kHeaderLengthHeader[] = "Inference-Header-Content-Length";

struct RestInferRequest {
  std::string id;
  std::vector<std::string> images;  // encoded bytes, in order
  ClassifyParameters parameters;
  struct Output {
    std::string name;
    bool binary = false;
  };
  std::vector<Output> outputs;  // what to return, in order (never empty after parsing)
};

// `header_length`: the Inference-Header-Content-Length value, nullopt when the header is absent
// (then the whole body is JSON).
absl::StatusOr<RestInferRequest> ParseRestInferRequest(std::string_view body,
                                                       std::optional<size_t> header_length,
                                                       const std::string& input_key);

struct RestInferResponse {
  std::string body;
  std::optional<size_t> header_length;  // set when some output is binary
};

RestInferResponse FormatRestInferResponse(const std::string& model_name,
                                          const std::string& model_version,
                                          const RestInferRequest& request, const Outputs& outputs);

}  // namespace tessera::serving::kserve
