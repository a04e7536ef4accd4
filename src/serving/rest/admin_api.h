// The admin REST API: API keys, endpoint rate limits and project quotas (docs/security.md;
// docs/openapi.json describes every route, kept in sync by tests/serving/openapi_sync_test.cc).
//
//   POST   /v1/keys                      create a key; the response holds its secret, once
//   GET    /v1/keys                      list the keys within the caller's reach
//   GET    /v1/keys/{key}                one key (never its secret)
//   PATCH  /v1/keys/{key}?updateMask=    displayName, expireTime, rateLimit
//   POST   /v1/keys/{key}:revoke         revoke; the key fails on its next request
//   GET    /v1/projects/{p}/locations/{l}/endpoints/{e}/rateLimit     (viewer)
//   PATCH  /v1/projects/{p}/locations/{l}/endpoints/{e}/rateLimit     set (admin)
//   DELETE /v1/projects/{p}/locations/{l}/endpoints/{e}/rateLimit     remove (admin)
//   GET    /v1/projects/{p}/quotas       the quota and the usage (viewer)
//   PATCH  /v1/projects/{p}/quotas       set (an admin key for every project)
//
// Threading: handlers run on the API's own BlockingExecutor (they commit SQLite transactions).
// The services must outlive the API; the API must outlive the server whose router holds its
// routes.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/key_service.h"
#include "control/endpoint_service.h"
#include "serving/front_door/secured_router.h"
#include "serving/rest/api_route.h"
#include "serving/rest/blocking_executor.h"

namespace tessera::serving::rest {

class AdminApi {
 public:
  struct Options {
    auth::KeyService* keys = nullptr;               // null: --auth=none; the key routes say so
    control::EndpointService* endpoints = nullptr;  // required
    int handler_threads = 2;
  };

  using RouteInfo = ApiRoute;

  static absl::StatusOr<std::unique_ptr<AdminApi>> Create(const Options& options);
  ~AdminApi();

  static std::vector<RouteInfo> Routes();
  absl::Status AddRoutes(SecuredRouter& router);

 private:
  using Method = http::HttpResponse (AdminApi::*)(const http::HttpRequest&);
  struct RouteEntry {
    RouteInfo info;
    Method handler;
  };
  static const std::vector<RouteEntry>& RouteTable();

  explicit AdminApi(const Options& options) : options_(options) {}
  http::Handler Bind(Method method);

  // Keys
  http::HttpResponse CreateKey(const http::HttpRequest& request);
  http::HttpResponse ListKeys(const http::HttpRequest& request);
  http::HttpResponse GetKey(const http::HttpRequest& request);
  http::HttpResponse UpdateKey(const http::HttpRequest& request);
  http::HttpResponse RevokeKey(const http::HttpRequest& request);
  // Endpoint rate limits
  http::HttpResponse GetEndpointRateLimit(const http::HttpRequest& request);
  http::HttpResponse SetEndpointRateLimit(const http::HttpRequest& request);
  http::HttpResponse ClearEndpointRateLimit(const http::HttpRequest& request);
  // Quotas
  http::HttpResponse GetQuota(const http::HttpRequest& request);
  http::HttpResponse SetQuota(const http::HttpRequest& request);

  // FAILED_PRECONDITION when authentication is off (there are no keys to manage).
  absl::Status RequireKeys() const;
  // The key the path's {key} names, when the caller may manage it (admin_key_routes.cc).
  absl::StatusOr<registry::ApiKeyRecord> KeyInReach(const http::HttpRequest& request) const;

  const Options options_;
  std::unique_ptr<BlockingExecutor> executor_;
};

}  // namespace tessera::serving::rest
