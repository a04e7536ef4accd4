// The replica's POST /predict body (runtime/predict_codec.h) and the /predict_bytes query: errors
// are INVALID_ARGUMENT, and an accepted request holds between 1 and max_instances images with
// valid parameters.
#include <optional>

#include "fuzz_util.h"
#include "nlohmann/json.hpp"
#include "runtime/predict_codec.h"

namespace runtime = tessera::runtime;
using tessera::fuzz::Require;

namespace {

// Splits "a\nb\nc\nd" into four optional query values ("" -> absent).
void FuzzQuery(std::string_view text) {
  std::optional<std::string> values[4];
  for (auto& value : values) {
    const size_t nl = text.find('\n');
    std::string_view part = text.substr(0, nl);
    if (!part.empty()) value = std::string(part);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  absl::StatusOr<runtime::PredictParameters> p =
      runtime::ParsePredictQuery(values[0], values[1], values[2], values[3]);
  if (p.ok()) {
    Require(p->top_k >= 1, "top_k < 1 accepted");
    Require(!p->confidence_threshold ||
                (*p->confidence_threshold >= 0 && *p->confidence_threshold <= 1),
            "a confidence_threshold outside [0, 1] accepted");
  } else {
    Require(absl::IsInvalidArgument(p.status()), "an error other than INVALID_ARGUMENT");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(tessera::fuzz::AsView(data, size));
  const runtime::PredictCodecOptions options{.input_key = "string_input", .max_instances = 8};
  absl::StatusOr<runtime::ParsedPredictRequest> request = runtime::ParsePredictRequest(body, options);
  if (request.ok()) {
    Require(!request->images.empty() && request->images.size() <= 8,
            "an instance count outside [1, max_instances] accepted");
    Require(request->parameters.top_k >= 1, "top_k < 1 accepted");
    const auto& threshold = request->parameters.confidence_threshold;
    Require(!threshold || (*threshold >= 0 && *threshold <= 1), "threshold outside [0, 1]");
    // The answer the replica would send for it.
    std::vector<tessera::engine::Prediction> top(2);
    top[0].label = "a";
    top[1].label = "b";
    (void)runtime::PredictionToJson(top, request->parameters).dump();
  } else {
    Require(absl::IsInvalidArgument(request.status()), "an error other than INVALID_ARGUMENT");
  }
  FuzzQuery(body);
  return 0;
}
