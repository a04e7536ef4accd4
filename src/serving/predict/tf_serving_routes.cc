#include "serving/predict/tf_serving_routes.h"

#include <string>
#include <string_view>
#include <utility>

#include "common/status_macros.h"
#include "common/untrusted_json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "serving/front_door/error_shape.h"
#include "serving/predict/offload.h"
#include "simdjson.h"

namespace tessera::serving {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr char kSignature[] = "serving_default";

// A model name resolves within the key's projects and endpoints (model_resolver.h).
constexpr RouteAccess kTfModelStatus{auth::Action::kAuthenticated, Scope::kModelName,
                                     ErrorShape::kPlain};
constexpr RouteAccess kTfPredictAccess{auth::Action::kPredict, Scope::kModelName,
                                       ErrorShape::kPlain};

// The three ways TF Serving addresses a model; each route family is registered for all of them.
constexpr const char* kModelPatterns[] = {
    "/v1/models/{name}",
    "/v1/models/{name}/versions/{version}",
    "/v1/models/{name}/labels/{label}",
};

absl::StatusOr<ResolvedModel> ResolveFor(const PredictionService& predictions,
                                         const ModelResolver& resolver,
                                         const http::HttpRequest& request) {
  return resolver.Resolve(*predictions.Snapshot(), request.PathParam("name"),
                          request.PathParam("version"), request.PathParam("label"),
                          request.principal.get());
}

// Columnar "inputs" -> row "instances". The model has one input, `input_key`.
absl::StatusOr<json> InstancesFromInputs(json& inputs, const std::string& input_key) {
  if (inputs.is_array()) return std::move(inputs);
  if (!inputs.is_object()) {
    return absl::InvalidArgumentError("\"inputs\" must be a list or an object");
  }
  if (inputs.contains("b64")) return json::array({std::move(inputs)});  // one unnamed image
  if (inputs.size() != 1) {
    return absl::InvalidArgumentError(fmt::format(
        "\"inputs\" names {} inputs; the model has one input, \"{}\"", inputs.size(), input_key));
  }
  auto [key, value] = *inputs.items().begin();
  if (key != input_key) {
    return absl::InvalidArgumentError(
        fmt::format("unknown input \"{}\"; the model's input is \"{}\"", key, input_key));
  }
  if (value.is_array()) return std::move(value);
  return json::array({std::move(value)});
}

// {"outputs": {"label": [..], "confidence": [..]}}: the row predictions, one list per field.
ordered_json Columnar(const ordered_json& predictions) {
  ordered_json outputs = ordered_json::object();
  if (!predictions.empty() && predictions.front().is_object()) {
    for (const auto& [key, unused] : predictions.front().items()) {
      ordered_json column = ordered_json::array();
      for (const ordered_json& p : predictions) column.push_back(p.value(key, ordered_json()));
      outputs[key] = std::move(column);
    }
  }
  return ordered_json{{"outputs", std::move(outputs)}};
}

// The replica's {"predictions": [...]} as TF Serving answers: rows, or columns for a columnar
// request.
absl::StatusOr<ordered_json> PredictResponse(const ReplicaReply& reply, bool row) {
  absl::StatusOr<ordered_json> replica = ParseUntrustedOrderedJson(reply.body, kPeerJsonLimits);
  if (!replica.ok() || !replica->is_object() || !replica->contains("predictions") ||
      !(*replica)["predictions"].is_array()) {
    return absl::InternalError(
        fmt::format("replica {} answered without predictions", reply.served_by.replica_id));
  }
  if (!row) return Columnar((*replica)["predictions"]);
  return ordered_json{{"predictions", std::move((*replica)["predictions"])}};
}

// True for the common case: a row-format body ({"instances": [...]}, no "inputs", no other
// signature), which the replica takes as it is ("signature_name" is ignored there). Checked
// with simdjson, so the body, mostly base64, is forwarded without nlohmann::json lexing it a
// character at a time (several times slower). Anything else takes the general path, which
// also words the errors (a body over kPredictJsonLimits among them).
bool IsPlainRowRequest(const std::string& body) {
  JsonDomParser parser;
  simdjson::dom::element doc;
  simdjson::dom::object object;
  if (!parser.Parse(body, kPredictJsonLimits, doc).ok() || doc.get_object().get(object)) {
    return false;
  }
  simdjson::dom::element unused;
  if (object.at_key("inputs").get(unused) == simdjson::SUCCESS) return false;
  simdjson::dom::array instances;
  if (object.at_key("instances").get_array().get(instances) != simdjson::SUCCESS) return false;
  simdjson::dom::element signature;
  if (object.at_key("signature_name").get(signature) == simdjson::SUCCESS) {
    std::string_view name;
    if (signature.get_string().get(name) != simdjson::SUCCESS) return false;
    if (!name.empty() && name != kSignature) return false;
  }
  return true;
}

absl::StatusOr<ordered_json> Predict(PredictionService& predictions, const ModelResolver& resolver,
                                     http::HttpRequest& request) {
  if (IsPlainRowRequest(request.body)) {
    ASSIGN_OR_RETURN(ResolvedModel model, ResolveFor(predictions, resolver, request));
    ASSIGN_OR_RETURN(ReplicaReply reply,
                     predictions.PredictModelVersion(model.model_id, model.version.version_id,
                                                     ReplicaCall{.body = std::move(request.body)}));
    return PredictResponse(reply, /*row=*/true);
  }
  ASSIGN_OR_RETURN(json body, ParseUntrustedJson(request.body, kPredictJsonLimits));
  if (!body.is_object())
    return absl::InvalidArgumentError("the request body must be a JSON object");
  if (auto sig = body.find("signature_name"); sig != body.end()) {
    if (!sig->is_string() || (!sig->get_ref<const std::string&>().empty() &&
                              sig->get_ref<const std::string&>() != kSignature)) {
      return absl::InvalidArgumentError(
          fmt::format("signature_name {} not found; the model's only signature is \"{}\"",
                      JsonPreview(*sig), kSignature));
    }
  }
  const bool row = body.contains("instances");
  if (row == body.contains("inputs")) {
    return absl::InvalidArgumentError(
        "give exactly one of \"instances\" (row format) or \"inputs\" (columnar format)");
  }
  ASSIGN_OR_RETURN(ResolvedModel model, ResolveFor(predictions, resolver, request));
  json forward = json::object();
  if (row) {
    forward["instances"] = std::move(body["instances"]);
  } else {
    ASSIGN_OR_RETURN(forward["instances"],
                     InstancesFromInputs(body["inputs"], model.version.input_key));
  }
  if (!forward["instances"].is_array()) {
    return absl::InvalidArgumentError("\"instances\" must be a list");
  }
  if (auto params = body.find("parameters"); params != body.end()) {
    forward["parameters"] = std::move(*params);
  }
  ASSIGN_OR_RETURN(ReplicaReply reply,
                   predictions.PredictModelVersion(model.model_id, model.version.version_id,
                                                   ReplicaCall{.body = forward.dump()}));
  return PredictResponse(reply, row);
}

ordered_json VersionStatus(const DeployedVersion& v) {
  return ordered_json{{"version", v.version_id},
                      {"state", v.ready_replicas > 0 ? "AVAILABLE" : "LOADING"},
                      {"status", {{"error_code", "OK"}, {"error_message", ""}}}};
}

absl::StatusOr<ordered_json> Status(const PredictionService& predictions,
                                    const ModelResolver& resolver,
                                    const http::HttpRequest& request) {
  ASSIGN_OR_RETURN(ResolvedModel model, ResolveFor(predictions, resolver, request));
  ordered_json statuses = ordered_json::array();
  const bool one = !request.PathParam("version").empty() || !request.PathParam("label").empty();
  if (one) {
    statuses.push_back(VersionStatus(model.version));
  } else {
    for (const DeployedVersion& v : model.versions) statuses.push_back(VersionStatus(v));
  }
  return ordered_json{{"model_version_status", std::move(statuses)}};
}

ordered_json TensorInfo(const char* dtype, const std::string& name) {
  return ordered_json{
      {"dtype", dtype},
      {"tensor_shape", {{"dim", {{{"size", "-1"}, {"name", ""}}}}, {"unknown_rank", false}}},
      {"name", name + ":0"}};
}

absl::StatusOr<ordered_json> Metadata(const PredictionService& predictions,
                                      const ModelResolver& resolver,
                                      const http::HttpRequest& request) {
  ASSIGN_OR_RETURN(ResolvedModel model, ResolveFor(predictions, resolver, request));
  const std::string& input = model.version.input_key;
  ordered_json signature{{"inputs", {{input, TensorInfo("DT_STRING", input)}}},
                         {"outputs",
                          {{"label", TensorInfo("DT_STRING", "label")},
                           {"confidence", TensorInfo("DT_FLOAT", "confidence")}}},
                         {"method_name", "tensorflow/serving/predict"}};
  return ordered_json{
      {"model_spec",
       {{"name", request.PathParam("name")},
        {"signature_name", ""},
        {"version", model.version.version_id}}},
      {"metadata", {{"signature_def", {{"signature_def", {{kSignature, std::move(signature)}}}}}}}};
}

// Wraps a JSON-producing call into a handler body with the Google error mapping.
template <typename Fn>
BlockingWork JsonWork(Fn fn) {
  return [fn](http::HttpRequest& request) {
    absl::StatusOr<ordered_json> body = fn(request);
    if (!body.ok()) return PlainErrorResponse(body.status());
    return OrderedJsonResponse(*body);
  };
}

}  // namespace

absl::Status AddTfServingRoutes(SecuredRouter& router, PredictionService* predictions,
                                const ModelResolver* resolver, const PredictRunner& runner) {
  if (predictions == nullptr || resolver == nullptr || runner.executor == nullptr) {
    return absl::InvalidArgumentError("AddTfServingRoutes: predictions, resolver, executor");
  }
  for (const char* pattern : kModelPatterns) {
    const std::string base(pattern);
    RETURN_IF_ERROR(
        router.Add("POST", base + ":predict", kTfPredictAccess,
                   OffloadedHandler(runner, PredictProtocol::kTfServing,
                                    JsonWork([predictions, resolver](http::HttpRequest& r) {
                                      return Predict(*predictions, *resolver, r);
                                    }),
                                    ErrorShape::kPlain)));
    RETURN_IF_ERROR(
        router.Add("GET", base, kTfModelStatus,
                   OffloadedHandler(runner.Uncounted(), PredictProtocol::kTfServing,
                                    JsonWork([predictions, resolver](http::HttpRequest& r) {
                                      return Status(*predictions, *resolver, r);
                                    }),
                                    ErrorShape::kPlain)));
    RETURN_IF_ERROR(
        router.Add("GET", base + "/metadata", kTfModelStatus,
                   OffloadedHandler(runner.Uncounted(), PredictProtocol::kTfServing,
                                    JsonWork([predictions, resolver](http::HttpRequest& r) {
                                      return Metadata(*predictions, *resolver, r);
                                    }),
                                    ErrorShape::kPlain)));
  }
  return absl::OkStatus();
}

}  // namespace tessera::serving
