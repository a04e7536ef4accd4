#include "serving/rest/control_plane_api.h"

#include <exception>

#include "common/http/exception_response.h"
#include "common/http/google_error.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "serving/rest/endpoint_codec.h"
#include "serving/rest/openapi_document.h"
#include "serving/rest/operation_codec.h"
#include "serving/rest/request_util.h"
#include "spdlog/spdlog.h"

namespace tessera::serving::rest {

namespace {

// Access rules (route_access.h) of the control plane's routes: every one names its project.
constexpr RouteAccess kReader{auth::Action::kRead, Scope::kProject};
constexpr RouteAccess kWriter{auth::Action::kWrite, Scope::kProject};
constexpr RouteAccess kAnyKey{auth::Action::kAuthenticated, Scope::kGlobal};

}  // namespace

// Every Vertex resource lives under a location.
#define TESSERA_LOC "/v1/projects/{project}/locations/{location}"
#define TESSERA_UI_LOC "/ui/projects/{project}/locations/{location}"

const std::vector<ControlPlaneApi::RouteEntry>& ControlPlaneApi::RouteTable() {
  static const auto* const table = new std::vector<RouteEntry>{
      // ModelService
      {{"POST", TESSERA_LOC "/models:upload", "models.upload", kWriter},
       &ControlPlaneApi::UploadModel},
      {{"GET", TESSERA_LOC "/models", "models.list", kReader}, &ControlPlaneApi::ListModels},
      {{"GET", TESSERA_LOC "/models/{model}", "models.get", kReader}, &ControlPlaneApi::GetModel},
      {{"PATCH", TESSERA_LOC "/models/{model}", "models.patch", kWriter},
       &ControlPlaneApi::UpdateModel},
      {{"DELETE", TESSERA_LOC "/models/{model}", "models.delete", kWriter},
       &ControlPlaneApi::DeleteModel},
      {{"DELETE", TESSERA_LOC "/models/{model}:deleteVersion", "models.deleteVersion", kWriter},
       &ControlPlaneApi::DeleteModelVersion},
      {{"GET", TESSERA_LOC "/models/{model}:listVersions", "models.listVersions", kReader},
       &ControlPlaneApi::ListModelVersions},
      {{"POST", TESSERA_LOC "/models/{model}:mergeVersionAliases", "models.mergeVersionAliases",
        kWriter},
       &ControlPlaneApi::MergeVersionAliases},
      // EndpointService
      {{"POST", TESSERA_LOC "/endpoints", "endpoints.create", kWriter},
       &ControlPlaneApi::CreateEndpoint},
      {{"GET", TESSERA_LOC "/endpoints", "endpoints.list", kReader},
       &ControlPlaneApi::ListEndpoints},
      {{"GET", TESSERA_LOC "/endpoints/{endpoint}", "endpoints.get", kReader},
       &ControlPlaneApi::GetEndpoint},
      {{"PATCH", TESSERA_LOC "/endpoints/{endpoint}", "endpoints.patch", kWriter},
       &ControlPlaneApi::UpdateEndpoint},
      {{"DELETE", TESSERA_LOC "/endpoints/{endpoint}", "endpoints.delete", kWriter},
       &ControlPlaneApi::DeleteEndpoint},
      {{"POST", TESSERA_LOC "/endpoints/{endpoint}:deployModel", "endpoints.deployModel", kWriter},
       &ControlPlaneApi::DeployModel},
      {{"POST", TESSERA_LOC "/endpoints/{endpoint}:undeployModel", "endpoints.undeployModel",
        kWriter},
       &ControlPlaneApi::UndeployModel},
      // Operations
      {{"GET", TESSERA_LOC "/operations", "operations.list", kReader},
       &ControlPlaneApi::ListOperations},
      {{"GET", TESSERA_LOC "/operations/{operation}", "operations.get", kReader},
       &ControlPlaneApi::GetOperation},
      {{"DELETE", TESSERA_LOC "/operations/{operation}", "operations.delete", kWriter},
       &ControlPlaneApi::DeleteOperation},
      {{"POST", TESSERA_LOC "/operations/{operation}:wait", "operations.wait", kReader},
       &ControlPlaneApi::WaitOperation},
      {{"POST", TESSERA_LOC "/operations/{operation}:cancel", "operations.cancel", kWriter},
       &ControlPlaneApi::CancelOperation},
      // The same under /ui: Google's client libraries poll operations on Vertex's "/ui" bindings
      // (the first of each method's HTTP rules), so they are served too.
      {{"GET", TESSERA_UI_LOC "/operations", "ui.operations.list", kReader},
       &ControlPlaneApi::ListOperations},
      {{"GET", TESSERA_UI_LOC "/operations/{operation}", "ui.operations.get", kReader},
       &ControlPlaneApi::GetOperation},
      {{"DELETE", TESSERA_UI_LOC "/operations/{operation}", "ui.operations.delete", kWriter},
       &ControlPlaneApi::DeleteOperation},
      {{"POST", TESSERA_UI_LOC "/operations/{operation}:wait", "ui.operations.wait", kReader},
       &ControlPlaneApi::WaitOperation},
      {{"POST", TESSERA_UI_LOC "/operations/{operation}:cancel", "ui.operations.cancel", kWriter},
       &ControlPlaneApi::CancelOperation},
      // The API description itself.
      {{"GET", "/openapi.json", "openapi.get", kAnyKey}, &ControlPlaneApi::GetOpenApi},
  };
  return *table;
}

#undef TESSERA_LOC
#undef TESSERA_UI_LOC

std::vector<ControlPlaneApi::RouteInfo> ControlPlaneApi::Routes() {
  std::vector<RouteInfo> routes;
  for (const RouteEntry& e : RouteTable()) routes.push_back(e.info);
  return routes;
}

ControlPlaneApi::ControlPlaneApi(const Options& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<ControlPlaneApi>> ControlPlaneApi::Create(const Options& options) {
  if (options.models == nullptr || options.operations == nullptr || options.endpoints == nullptr) {
    return absl::InvalidArgumentError("ControlPlaneApi: models, operations, endpoints required");
  }
  std::unique_ptr<ControlPlaneApi> api(new ControlPlaneApi(options));
  api->executor_ = std::make_unique<BlockingExecutor>(
      BlockingExecutor::Options{.threads = std::max(1, options.handler_threads)});
  return api;
}

ControlPlaneApi::~ControlPlaneApi() {
  shutting_down_.store(true);
  executor_.reset();  // joins the handler threads before the members they use go away
}

void ControlPlaneApi::BeginShutdown() { shutting_down_.store(true); }

absl::Status ControlPlaneApi::AddRoutes(SecuredRouter& router) {
  for (const RouteEntry& e : RouteTable()) {
    RETURN_IF_ERROR(router.Add(e.info.method, e.info.pattern, e.info.access, Bind(e.handler)));
  }
  return absl::OkStatus();
}

http::Handler ControlPlaneApi::Bind(Method method) {
  return OnExecutor(
      executor_.get(), [this, method](const http::HttpRequest& r) { return (this->*method)(r); },
      "control plane");
}

http::HttpResponse ControlPlaneApi::OperationResponse(const registry::Operation& op) {
  nlohmann::json response = MinimalOperationResponse(op);
  if (op.done && op.error.ok()) {
    if (op.kind == registry::OperationKind::kCreateEndpoint) {
      absl::StatusOr<registry::Endpoint> e = options_.endpoints->GetEndpoint(op.result.endpoint);
      if (e.ok()) response = EndpointToJson(*e, {.strict = true});
    } else if (op.kind == registry::OperationKind::kDeployModel) {
      absl::StatusOr<registry::Endpoint> e = options_.endpoints->GetEndpoint(op.result.endpoint);
      const registry::DeployedModel* dm =
          e.ok() ? e->FindDeployedModel(op.result.deployed_model_id) : nullptr;
      if (dm != nullptr) response = {{"deployedModel", DeployedModelToJson(*dm, {.strict = true})}};
    }
  }
  http::HttpResponse http_response = Ok(OperationToJson(op, response));
  http_response.headers.Set(kProgressHeader, std::to_string(op.progress_percent));
  if (!op.stage.empty()) http_response.headers.Set(kStageHeader, op.stage);
  return http_response;
}

http::HttpResponse ControlPlaneApi::GetOpenApi(const http::HttpRequest&) {
  http::HttpResponse response;
  response.status = 200;
  response.content_type = "application/json";
  response.body = std::string(OpenApiDocument());
  return response;
}

}  // namespace tessera::serving::rest
