#include "serving/predict/kserve_v2_routes.h"

#include <charconv>
#include <string>
#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "serving/front_door/error_shape.h"
#include "serving/predict/classification.h"
#include "serving/predict/kserve_v2.h"
#include "serving/predict/kserve_v2_json.h"
#include "serving/predict/offload.h"

namespace tessera::serving {
namespace {

using nlohmann::ordered_json;

constexpr const char* kKserveModelPatterns[] = {
    "/v2/models/{name}",
    "/v2/models/{name}/versions/{version}",
};

absl::StatusOr<ResolvedModel> ResolveKserveModel(const PredictionService& predictions,
                                                 const ModelResolver& resolver,
                                                 const http::HttpRequest& request) {
  return resolver.Resolve(*predictions.Snapshot(), request.PathParam("name"),
                          request.PathParam("version"), /*label=*/"", request.principal.get());
}

ordered_json KserveModelMetadata(const std::string& name, const ResolvedModel& model) {
  ordered_json versions = ordered_json::array();
  for (const DeployedVersion& v : model.versions) versions.push_back(v.version_id);
  auto tensor = [](const std::string& tensor_name, const char* datatype, ordered_json shape) {
    return ordered_json{{"name", tensor_name}, {"datatype", datatype}, {"shape", std::move(shape)}};
  };
  return ordered_json{{"name", name},
                      {"versions", std::move(versions)},
                      {"platform", kserve::kPlatform},
                      {"inputs", {tensor(model.version.input_key, "BYTES", {-1})}},
                      {"outputs",
                       {tensor(kserve::kLabelOutput, "BYTES", {-1, -1}),
                        tensor(kserve::kConfidenceOutput, "FP32", {-1, -1})}}};
}

http::HttpResponse KserveMetadata(const PredictionService& predictions,
                                  const ModelResolver& resolver, const http::HttpRequest& request) {
  absl::StatusOr<ResolvedModel> model = ResolveKserveModel(predictions, resolver, request);
  if (!model.ok()) return PlainErrorResponse(model.status());
  return OrderedJsonResponse(KserveModelMetadata(request.PathParam("name"), *model));
}

http::HttpResponse KserveReady(const PredictionService& predictions, const ModelResolver& resolver,
                               const http::HttpRequest& request) {
  absl::StatusOr<ResolvedModel> model = ResolveKserveModel(predictions, resolver, request);
  if (!model.ok()) return PlainErrorResponse(model.status());
  if (model->version.ready_replicas == 0) {
    return PlainErrorResponse(absl::FailedPreconditionError(
        fmt::format("model \"{}\" version {} has no ready replica yet", request.PathParam("name"),
                    model->version.version_id)));
  }
  return OrderedJsonResponse(ordered_json{{"name", request.PathParam("name")}, {"ready", true}});
}

absl::StatusOr<std::optional<size_t>> HeaderLength(const http::HttpRequest& request) {
  const std::string* value = request.headers.Find(kserve::kHeaderLengthHeader);
  if (value == nullptr) return std::nullopt;
  size_t length = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), length);
  if (ec != std::errc() || end != value->data() + value->size()) {
    return absl::InvalidArgumentError(
        fmt::format("{} must be a byte count, got \"{}\"", kserve::kHeaderLengthHeader, *value));
  }
  return length;
}

absl::StatusOr<http::HttpResponse> KserveInfer(PredictionService& predictions,
                                               const ModelResolver& resolver,
                                               const http::HttpRequest& request) {
  ASSIGN_OR_RETURN(ResolvedModel model, ResolveKserveModel(predictions, resolver, request));
  ASSIGN_OR_RETURN(std::optional<size_t> header_length, HeaderLength(request));
  ASSIGN_OR_RETURN(
      kserve::RestInferRequest infer,
      kserve::ParseRestInferRequest(request.body, header_length, model.version.input_key));
  ASSIGN_OR_RETURN(std::vector<Classification> rows,
                   ClassifyImages(predictions, model.model_id, model.version.version_id,
                                  infer.images, infer.parameters));
  ASSIGN_OR_RETURN(kserve::Outputs outputs, kserve::OutputsFrom(rows));
  kserve::RestInferResponse formatted = kserve::FormatRestInferResponse(
      request.PathParam("name"), model.version.version_id, infer, outputs);
  http::HttpResponse out;
  out.body = std::move(formatted.body);
  if (formatted.header_length) {
    out.content_type = "application/octet-stream";
    out.headers.Set(kserve::kHeaderLengthHeader, std::to_string(*formatted.header_length));
  } else {
    out.content_type = std::string(http::kJsonContentType);
  }
  return out;
}

}  // namespace

absl::Status AddKserveV2Routes(SecuredRouter& router, PredictionService* predictions,
                               const ModelResolver* resolver, const PredictRunner& runner) {
  if (predictions == nullptr || resolver == nullptr || runner.executor == nullptr) {
    return absl::InvalidArgumentError("AddKserveV2Routes: predictions, resolver, executor");
  }
  RETURN_IF_ERROR(
      router.AddSync("GET", "/v2/health/live", kserve::kProbeAccess, [](http::HttpRequest&&) {
        return OrderedJsonResponse(ordered_json{{"live", true}});
      }));
  RETURN_IF_ERROR(
      router.AddSync("GET", "/v2/health/ready", kserve::kProbeAccess, [](http::HttpRequest&&) {
        return OrderedJsonResponse(ordered_json{{"ready", true}});
      }));
  RETURN_IF_ERROR(
      router.AddSync("GET", "/v2", kserve::kServerMetadataAccess, [](http::HttpRequest&&) {
        return OrderedJsonResponse(ordered_json{{"name", "tessera"},
                                                {"version", TESSERA_VERSION},
                                                {"extensions", {"binary_tensor_data"}}});
      }));
  for (const char* pattern : kKserveModelPatterns) {
    const std::string base(pattern);
    RETURN_IF_ERROR(router.Add("GET", base, kserve::kModelMetadataAccess,
                               OffloadedHandler(
                                   runner.Uncounted(), PredictProtocol::kKServeRest,
                                   [predictions, resolver](http::HttpRequest& r) {
                                     return KserveMetadata(*predictions, *resolver, r);
                                   },
                                   ErrorShape::kPlain)));
    RETURN_IF_ERROR(router.Add("GET", base + "/ready", kserve::kModelMetadataAccess,
                               OffloadedHandler(
                                   runner.Uncounted(), PredictProtocol::kKServeRest,
                                   [predictions, resolver](http::HttpRequest& r) {
                                     return KserveReady(*predictions, *resolver, r);
                                   },
                                   ErrorShape::kPlain)));
    RETURN_IF_ERROR(router.Add("POST", base + "/infer", kserve::kInferAccess,
                               OffloadedHandler(
                                   runner, PredictProtocol::kKServeRest,
                                   [predictions, resolver](http::HttpRequest& r) {
                                     absl::StatusOr<http::HttpResponse> response =
                                         KserveInfer(*predictions, *resolver, r);
                                     return response.ok() ? std::move(*response)
                                                          : PlainErrorResponse(response.status());
                                   },
                                   ErrorShape::kPlain)));
  }
  return absl::OkStatus();
}

}  // namespace tessera::serving
