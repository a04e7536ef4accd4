#include "serving/predict/classification.h"

#include "common/base64.h"
#include "common/untrusted_json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::serving {
namespace {

using nlohmann::json;

absl::Status Malformed(std::string_view why) {
  return absl::InternalError(fmt::format("the replica's predictions are malformed: {}", why));
}

absl::StatusOr<Classification> ParseOne(const json& prediction) {
  if (!prediction.is_object()) return Malformed("a prediction is not an object");
  Classification out;
  auto label = prediction.find("label");
  auto confidence = prediction.find("confidence");
  if (label != prediction.end() && confidence != prediction.end()) {
    if (!label->is_string() || !confidence->is_number()) return Malformed("label/confidence");
    out.labels.push_back(label->get<std::string>());
    out.confidences.push_back(confidence->get<float>());
    return out;
  }
  auto labels = prediction.find("labels");
  auto confidences = prediction.find("confidences");
  if (labels == prediction.end() || confidences == prediction.end() || !labels->is_array() ||
      !confidences->is_array() || labels->size() != confidences->size()) {
    return Malformed("neither label/confidence nor labels/confidences of equal length");
  }
  for (size_t i = 0; i < labels->size(); ++i) {
    if (!(*labels)[i].is_string() || !(*confidences)[i].is_number()) {
      return Malformed("labels must be strings and confidences numbers");
    }
    out.labels.push_back((*labels)[i].get<std::string>());
    out.confidences.push_back((*confidences)[i].get<float>());
  }
  return out;
}

}  // namespace

std::string ReplicaBodyForImages(const std::vector<std::string>& images,
                                 const ClassifyParameters& parameters) {
  json instances = json::array();
  for (const std::string& image : images) instances.push_back({{"b64", Base64Encode(image)}});
  json params = {{"top_k", parameters.top_k}};
  if (parameters.confidence_threshold) {
    params["confidence_threshold"] = *parameters.confidence_threshold;
  }
  return json{{"instances", std::move(instances)}, {"parameters", std::move(params)}}.dump();
}

absl::StatusOr<std::vector<Classification>> ParseClassifications(std::string_view replica_body,
                                                                 size_t expected) {
  absl::StatusOr<json> parsed = ParseUntrustedJson(replica_body, kPeerJsonLimits);
  if (!parsed.ok()) return Malformed(std::string(parsed.status().message()));
  const json& body = *parsed;
  if (!body.is_object()) return Malformed("not a JSON object");
  auto predictions = body.find("predictions");
  if (predictions == body.end() || !predictions->is_array()) {
    return Malformed("no \"predictions\" list");
  }
  if (predictions->size() != expected) {
    return Malformed(fmt::format("{} predictions for {} instances", predictions->size(), expected));
  }
  std::vector<Classification> out;
  out.reserve(expected);
  for (const json& prediction : *predictions) {
    absl::StatusOr<Classification> one = ParseOne(prediction);
    if (!one.ok()) return one.status();
    out.push_back(std::move(*one));
  }
  return out;
}

absl::StatusOr<std::vector<Classification>> ClassifyImages(PredictionService& predictions,
                                                           const std::string& model_id,
                                                           const std::string& model_version_id,
                                                           const std::vector<std::string>& images,
                                                           const ClassifyParameters& parameters) {
  absl::StatusOr<ReplicaReply> reply = predictions.PredictModelVersion(
      model_id, model_version_id, ReplicaCall{.body = ReplicaBodyForImages(images, parameters)});
  if (!reply.ok()) return reply.status();
  return ParseClassifications(reply->body, images.size());
}

}  // namespace tessera::serving
