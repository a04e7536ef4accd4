// The control-plane REST API: Vertex AI v1 ModelService, EndpointService and Operations methods
// over HTTP/JSON, mapped one to one onto registry::ModelService, control::EndpointService and
// registry::OperationService. docs/rest-api.md documents it; docs/openapi.json describes it (kept
// in sync with RouteTable() by tests/serving/openapi_sync_test.cc) and is served at
// GET /openapi.json.
//
// Errors: every failure is Google's error JSON with the HTTP status of its code
// (common/http/google_error.h); unknown paths 404, wrong methods 405 (the Router's).
//
// Threading: handlers run on this API's own BlockingExecutor (service calls commit SQLite
// transactions and :wait blocks), never on the server's io threads. Created and destroyed by the
// owner (`tessera serve`); it must outlive the HttpServer whose Router holds its routes
// (shut the server down first). The services must outlive the API.
#pragma once

#include <atomic>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/http_types.h"
#include "common/http/router.h"
#include "control/endpoint_service.h"
#include "registry/model_service.h"
#include "registry/operation_service.h"
#include "serving/front_door/secured_router.h"
#include "serving/rest/api_route.h"
#include "serving/rest/blocking_executor.h"

namespace tessera::serving::rest {

class ControlPlaneApi {
 public:
  struct Options {
    registry::ModelService* models = nullptr;          // not owned
    registry::OperationService* operations = nullptr;  // not owned
    control::EndpointService* endpoints = nullptr;     // not owned
    int handler_threads = 8;
    // The longest one operations:wait call blocks (a longer or missing timeout is cut to this;
    // google.longrunning allows returning early, clients loop).
    absl::Duration max_wait = absl::Seconds(60);
    // At most this many :wait calls block at once (each holds a handler thread); further ones
    // wait one short slice and return the current state, so long polls never starve the other
    // methods. 0: half the handler threads.
    int max_blocking_waits = 0;
  };

  using RouteInfo = ApiRoute;

  static absl::StatusOr<std::unique_ptr<ControlPlaneApi>> Create(const Options& options);
  ~ControlPlaneApi();

  // Every route this API registers, GET /openapi.json included.
  static std::vector<RouteInfo> Routes();

  // Registers Routes() on `router` (before the router is shared with a server).
  absl::Status AddRoutes(SecuredRouter& router);

  // Pending and future :wait calls return the operation's current state at once. Call before
  // shutting the server down so draining does not wait for long polls.
  void BeginShutdown();

 private:
  using Method = http::HttpResponse (ControlPlaneApi::*)(const http::HttpRequest&);
  struct RouteEntry {
    RouteInfo info;
    Method handler;
  };
  static const std::vector<RouteEntry>& RouteTable();

  explicit ControlPlaneApi(const Options& options);
  http::Handler Bind(Method method);

  // ---- ModelService (model_routes.cc) ----
  http::HttpResponse UploadModel(const http::HttpRequest& request);
  http::HttpResponse GetModel(const http::HttpRequest& request);
  http::HttpResponse ListModels(const http::HttpRequest& request);
  http::HttpResponse UpdateModel(const http::HttpRequest& request);
  http::HttpResponse DeleteModel(const http::HttpRequest& request);
  http::HttpResponse DeleteModelVersion(const http::HttpRequest& request);
  http::HttpResponse ListModelVersions(const http::HttpRequest& request);
  http::HttpResponse MergeVersionAliases(const http::HttpRequest& request);

  // ---- EndpointService (endpoint_routes.cc) ----
  http::HttpResponse CreateEndpoint(const http::HttpRequest& request);
  http::HttpResponse GetEndpoint(const http::HttpRequest& request);
  http::HttpResponse ListEndpoints(const http::HttpRequest& request);
  http::HttpResponse UpdateEndpoint(const http::HttpRequest& request);
  http::HttpResponse DeleteEndpoint(const http::HttpRequest& request);
  http::HttpResponse DeployModel(const http::HttpRequest& request);
  http::HttpResponse UndeployModel(const http::HttpRequest& request);

  // ---- Operations (operation_routes.cc) ----
  http::HttpResponse GetOperation(const http::HttpRequest& request);
  http::HttpResponse ListOperations(const http::HttpRequest& request);
  http::HttpResponse WaitOperation(const http::HttpRequest& request);
  http::HttpResponse CancelOperation(const http::HttpRequest& request);
  http::HttpResponse DeleteOperation(const http::HttpRequest& request);

  http::HttpResponse GetOpenApi(const http::HttpRequest& request);

  // The Operation JSON response (with the progress headers), reading the resource a finished
  // CreateEndpoint / DeployModel embeds in its response.
  http::HttpResponse OperationResponse(const registry::Operation& operation);

  const Options options_;
  std::unique_ptr<BlockingExecutor> executor_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> blocking_waits_{0};
};

}  // namespace tessera::serving::rest
