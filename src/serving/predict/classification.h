// The replica's classification answer as data, for the frontends that do not pass the Vertex JSON
// through (TF Serving columnar, KServe v2 REST and gRPC).
//
// Those frontends collect encoded images, ask the replica with one Vertex-shaped body
// (`ReplicaBodyForImages`: {"instances":[{"b64":..},..],"parameters":{"top_k":k,...}}), and read
// its predictions back (`ParseClassifications`): either {"label","confidence"} (top_k 1, no
// threshold) or {"labels":[..],"confidences":[..]} (runtime/predict_codec.h). Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "serving/predict/prediction_service.h"

namespace tessera::serving {

struct Classification {
  std::vector<std::string> labels;  // most probable first
  std::vector<float> confidences;   // same length as labels
};

struct ClassifyParameters {
  int top_k = 1;
  std::optional<float> confidence_threshold;
};

// The replica /predict body for `images` (encoded bytes, base64-encoded here).
std::string ReplicaBodyForImages(const std::vector<std::string>& images,
                                 const ClassifyParameters& parameters);

// The replica's 200 body -> one Classification per instance. INTERNAL when the body is not what a
// replica sends or holds a different number of predictions than `expected`.
absl::StatusOr<std::vector<Classification>> ParseClassifications(std::string_view replica_body,
                                                                 size_t expected);

// Classifies `images` with a replica of (model id, version) through `predictions` (one replica
// call, so one batch when they fit) and parses the answer. The replica's errors come back as they
// are (INVALID_ARGUMENT "instance 1: ...", ...).
absl::StatusOr<std::vector<Classification>> ClassifyImages(PredictionService& predictions,
                                                           const std::string& model_id,
                                                           const std::string& model_version_id,
                                                           const std::vector<std::string>& images,
                                                           const ClassifyParameters& parameters);

}  // namespace tessera::serving
