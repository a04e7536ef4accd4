// The replica's predict wire format (the contract in docs and /work/wave2-contracts.md): parsing
// Vertex-shaped request bodies into encoded images + parameters, and formatting predictions.
//
// Request body of POST /predict:
//   {"instances": [<instance>, ...],
//    "parameters": {"top_k" | "topK": N, "confidence_threshold" | "confidenceThreshold": x},
//    "inputKey": "string_input"}                      (optional; overrides the replica's default)
// where an instance is {"<inputKey>": {"b64": "..."}}, {"b64": "..."} or a bare base64 string.
// Unknown parameters (e.g. the router's "deployedModelId") are ignored, as Vertex does.
//
// Response predictions, one per instance, in order:
//   top_k == 1 and no confidence_threshold: {"label": "...", "confidence": 0.9}  (the seed's shape)
//   otherwise: {"labels": [...], "confidences": [...]}, most probable first, only labels whose
//   confidence is >= confidence_threshold (so possibly empty).
//
// Every error is INVALID_ARGUMENT with a message naming the instance ("instance 2: ...") or the
// field. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/image_classifier.h"
#include "nlohmann/json_fwd.hpp"

namespace tessera::runtime {

inline constexpr std::string_view kDefaultInputKey = "string_input";
inline constexpr int kDefaultMaxInstances = 64;

struct PredictParameters {
  int top_k = 1;                              // >= 1; the engine clamps it to the number of labels
  std::optional<float> confidence_threshold;  // in [0, 1] when set
};

struct PredictCodecOptions {
  // The instance key used when the body has no "inputKey".
  std::string input_key = std::string(kDefaultInputKey);
  // Most instances in one request.
  int max_instances = kDefaultMaxInstances;
};

struct ParsedPredictRequest {
  std::vector<std::string> images;  // the decoded (base64) bytes of each instance, in order
  PredictParameters parameters;
};

// Parses a POST /predict body.
absl::StatusOr<ParsedPredictRequest> ParsePredictRequest(const std::string& body,
                                                         const PredictCodecOptions& options);

// Parses the "parameters" object (null or absent means defaults).
absl::StatusOr<PredictParameters> ParsePredictParameters(const nlohmann::json& parameters);

// Parses the query parameters of POST /predict_bytes: `top_k`/`topK` and
// `confidence_threshold`/`confidenceThreshold` as text (nullopt when absent).
absl::StatusOr<PredictParameters> ParsePredictQuery(
    const std::optional<std::string>& top_k, const std::optional<std::string>& top_k_camel,
    const std::optional<std::string>& threshold, const std::optional<std::string>& threshold_camel);

// One prediction in the shape described above. `top` is the engine's top-k (most probable first).
// Keys in the order above ("label" before "confidence", as Vertex shows them).
nlohmann::ordered_json PredictionToJson(const std::vector<engine::Prediction>& top,
                                        const PredictParameters& parameters);

}  // namespace tessera::runtime
