#include "serving/predict/vertex_predict_routes.h"

#include <string>
#include <utility>

#include "common/http/google_error.h"
#include "common/status_macros.h"
#include "common/untrusted_json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "serving/predict/endpoint_route.h"
#include "serving/predict/offload.h"
#include "serving/predict/payload_log.h"
#include "serving/predict/predict_context.h"
#include "simdjson.h"

namespace tessera::serving {
namespace {

constexpr RouteAccess kVertexPredictAccess{auth::Action::kPredict, Scope::kEndpoint};

// Decodes a :predict body that pins a deployed model in its parameters: the pin is removed
// before forwarding, so the body is rebuilt (nlohmann::json; rare, debugging only).
absl::Status DecodePinnedPredictBody(http::HttpRequest& request, std::string& forward,
                                     std::string& pinned) {
  ASSIGN_OR_RETURN(nlohmann::json body, ParseUntrustedJson(request.body, kPredictJsonLimits));
  if (!body.is_object())
    return absl::InvalidArgumentError("the request body must be a JSON object");
  auto instances = body.find("instances");
  if (instances == body.end()) {
    return absl::InvalidArgumentError("\"instances\" is required");
  }
  if (!instances->is_array()) {
    return absl::InvalidArgumentError("\"instances\" must be a list");
  }
  if (const std::string* header = request.headers.Find(kDeployedModelIdHeader)) {
    pinned = *header;
  }
  bool changed = false;
  auto parameters = body.find("parameters");
  if (parameters != body.end() && !parameters->is_null() && !parameters->is_object()) {
    return absl::InvalidArgumentError("\"parameters\" must be an object");
  }
  if (parameters != body.end() && parameters->is_object()) {
    for (const char* key : {"deployedModelId", "deployed_model_id"}) {
      auto it = parameters->find(key);
      if (it == parameters->end()) continue;
      if (!it->is_string()) {
        return absl::InvalidArgumentError(fmt::format("parameters.{} must be a string", key));
      }
      if (pinned.empty()) pinned = it->get<std::string>();
      parameters->erase(it);
      changed = true;
    }
  }
  forward = changed ? body.dump() : std::move(request.body);
  return absl::OkStatus();
}

// Decodes the :predict body; returns the body to forward (moved out of `request`: a copy of
// hundreds of KiB of base64 was a visible share of the router's CPU) and the pinned deployed
// model id.
// The common case (no pin in the parameters) only validates the shape with simdjson and forwards
// the body as it came: a body is mostly base64 image data, which nlohmann::json lexes a
// character at a time (JSON parsing was 40% of the CPU of a served fashion-vit prediction).
absl::Status DecodePredictBody(http::HttpRequest& request, std::string& forward,
                               std::string& pinned) {
  JsonDomParser parser;  // the elements below point into it
  simdjson::dom::element body;
  RETURN_IF_ERROR(parser.Parse(request.body, kPredictJsonLimits, body));
  if (!body.is_object())
    return absl::InvalidArgumentError("the request body must be a JSON object");
  simdjson::dom::element instances;
  if (body.at_key("instances").get(instances) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("\"instances\" is required");
  }
  if (!instances.is_array()) return absl::InvalidArgumentError("\"instances\" must be a list");
  simdjson::dom::element parameters;
  if (body.at_key("parameters").get(parameters) == simdjson::SUCCESS && !parameters.is_null()) {
    if (!parameters.is_object()) {
      return absl::InvalidArgumentError("\"parameters\" must be an object");
    }
    for (const char* key : {"deployedModelId", "deployed_model_id"}) {
      simdjson::dom::element unused;
      if (parameters.at_key(key).get(unused) == simdjson::SUCCESS) {
        return DecodePinnedPredictBody(request, forward, pinned);
      }
    }
  }
  if (const std::string* header = request.headers.Find(kDeployedModelIdHeader)) pinned = *header;
  forward = std::move(request.body);
  return absl::OkStatus();
}

http::HttpResponse Answer(PredictionService* predictions, http::HttpRequest& request,
                          const ReplicaCall& call, const std::string& pinned);

// A sampled request and its answer go to the endpoint's payload log (payload_log.h).
void LogPayload(PayloadLogger* payloads, const http::HttpRequest& request, std::string body,
                const http::HttpResponse& response) {
  const PredictRecord* record = CurrentPredictContext().record.get();
  if (payloads == nullptr || record == nullptr || record->endpoint.empty() ||
      !SampledByRequestId(request.request_id, record->payload_sampling_rate)) {
    return;
  }
  payloads->Log(PayloadRecord{.endpoint = record->endpoint,
                              .deployed_model_id = record->deployed_model_id,
                              .request_id = request.request_id,
                              .time = absl::Now(),
                              .status = response.status,
                              .request_body = std::move(body),
                              .response_body = response.body,
                              .store_images = record->payload_store_images});
}

http::HttpResponse Predict(PredictionService* predictions, PayloadLogger* payloads,
                           http::HttpRequest& request) {
  std::string forward;
  std::string pinned;
  if (absl::Status status = DecodePredictBody(request, forward, pinned); !status.ok()) {
    return http::GoogleErrorResponse(status);
  }
  ReplicaCall call{.body = std::move(forward)};
  http::HttpResponse response = Answer(predictions, request, call, pinned);
  LogPayload(payloads, request, std::move(call.body), response);
  return response;
}

http::HttpResponse Answer(PredictionService* predictions, http::HttpRequest& request,
                          const ReplicaCall& call, const std::string& pinned) {
  absl::StatusOr<ReplicaReply> reply =
      predictions->PredictEndpoint(EndpointNameOf(request), pinned, call);
  if (!reply.ok()) return http::GoogleErrorResponse(reply.status());
  // Ordered: keep the replica's "label", "confidence".
  absl::StatusOr<nlohmann::ordered_json> replica_body =
      ParseUntrustedOrderedJson(reply->body, kPeerJsonLimits);
  if (!replica_body.ok() || !replica_body->is_object() || !replica_body->contains("predictions")) {
    return http::GoogleErrorResponse(absl::InternalError(
        fmt::format("replica {} answered without predictions", reply->served_by.replica_id)));
  }
  // Vertex's field order.
  nlohmann::ordered_json response;
  response["predictions"] = std::move((*replica_body)["predictions"]);
  response["deployedModelId"] = reply->served_by.deployed_model_id;
  response["model"] = reply->served_by.model;
  response["modelDisplayName"] = reply->served_by.model_display_name;
  response["modelVersionId"] = reply->served_by.model_version_id;
  http::HttpResponse out;
  out.status = 200;
  out.content_type = std::string(http::kJsonContentType);
  out.body = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return out;
}

http::HttpResponse RawPredict(PredictionService* predictions, http::HttpRequest& request) {
  std::string pinned = request.headers.GetOr(kDeployedModelIdHeader, "");
  absl::StatusOr<ReplicaReply> reply = predictions->PredictEndpoint(
      EndpointNameOf(request), pinned, ReplicaCall{.body = std::move(request.body)});
  if (!reply.ok()) return http::GoogleErrorResponse(reply.status());
  http::HttpResponse out;
  out.status = 200;
  out.content_type = std::string(http::kJsonContentType);
  out.body = std::move(reply->body);
  out.headers.Set(kEndpointIdHeader, request.PathParam("endpoint"));
  out.headers.Set(kDeployedModelIdHeader, reply->served_by.deployed_model_id);
  return out;
}

}  // namespace

absl::Status AddVertexPredictRoutes(SecuredRouter& router, PredictionService* predictions,
                                    const PredictRunner& runner) {
  if (predictions == nullptr || runner.executor == nullptr) {
    return absl::InvalidArgumentError("AddVertexPredictRoutes: predictions and executor required");
  }
  RETURN_IF_ERROR(
      router.Add("POST", std::string(kEndpointRoutePattern) + ":predict", kVertexPredictAccess,
                 OffloadedHandler(runner, PredictProtocol::kVertex,
                                  [predictions, payloads = runner.payloads](http::HttpRequest& r) {
                                    return Predict(predictions, payloads, r);
                                  })));
  RETURN_IF_ERROR(router.Add(
      "POST", std::string(kEndpointRoutePattern) + ":rawPredict", kVertexPredictAccess,
      OffloadedHandler(runner, PredictProtocol::kVertex, [predictions](http::HttpRequest& r) {
        return RawPredict(predictions, r);
      })));
  return absl::OkStatus();
}

}  // namespace tessera::serving
