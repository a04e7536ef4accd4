#include "serving/rest/admin_api.h"

#include <algorithm>

#include "common/http/exception_response.h"
#include "common/status_macros.h"
#include "serving/rest/request_util.h"

namespace tessera::serving::rest {
namespace {

constexpr RouteAccess kKeyAdmin{auth::Action::kAdmin, Scope::kGlobal};
constexpr RouteAccess kProjectReader{auth::Action::kRead, Scope::kProject};
constexpr RouteAccess kProjectAdmin{auth::Action::kAdmin, Scope::kProject};
constexpr RouteAccess kEveryProjectAdmin{auth::Action::kAdmin, Scope::kEveryProject};

#define TESSERA_ENDPOINT "/v1/projects/{project}/locations/{location}/endpoints/{endpoint}"

}  // namespace

const std::vector<AdminApi::RouteEntry>& AdminApi::RouteTable() {
  static const auto* const table = new std::vector<RouteEntry>{
      {{"POST", "/v1/keys", "keys.create", kKeyAdmin}, &AdminApi::CreateKey},
      {{"GET", "/v1/keys", "keys.list", kKeyAdmin}, &AdminApi::ListKeys},
      {{"GET", "/v1/keys/{key}", "keys.get", kKeyAdmin}, &AdminApi::GetKey},
      {{"PATCH", "/v1/keys/{key}", "keys.patch", kKeyAdmin}, &AdminApi::UpdateKey},
      {{"POST", "/v1/keys/{key}:revoke", "keys.revoke", kKeyAdmin}, &AdminApi::RevokeKey},
      {{"GET", TESSERA_ENDPOINT "/rateLimit", "endpoints.getRateLimit", kProjectReader},
       &AdminApi::GetEndpointRateLimit},
      {{"PATCH", TESSERA_ENDPOINT "/rateLimit", "endpoints.setRateLimit", kProjectAdmin},
       &AdminApi::SetEndpointRateLimit},
      {{"DELETE", TESSERA_ENDPOINT "/rateLimit", "endpoints.deleteRateLimit", kProjectAdmin},
       &AdminApi::ClearEndpointRateLimit},
      {{"GET", "/v1/projects/{project}/quotas", "quotas.get", kProjectReader}, &AdminApi::GetQuota},
      {{"PATCH", "/v1/projects/{project}/quotas", "quotas.patch", kEveryProjectAdmin},
       &AdminApi::SetQuota},
  };
  return *table;
}

#undef TESSERA_ENDPOINT

std::vector<AdminApi::RouteInfo> AdminApi::Routes() {
  std::vector<RouteInfo> routes;
  for (const RouteEntry& e : RouteTable()) routes.push_back(e.info);
  return routes;
}

absl::StatusOr<std::unique_ptr<AdminApi>> AdminApi::Create(const Options& options) {
  if (options.endpoints == nullptr) {
    return absl::InvalidArgumentError("AdminApi: endpoints is required");
  }
  std::unique_ptr<AdminApi> api(new AdminApi(options));
  api->executor_ = std::make_unique<BlockingExecutor>(
      BlockingExecutor::Options{.threads = std::max(1, options.handler_threads)});
  return api;
}

AdminApi::~AdminApi() { executor_.reset(); }

absl::Status AdminApi::AddRoutes(SecuredRouter& router) {
  for (const RouteEntry& e : RouteTable()) {
    RETURN_IF_ERROR(router.Add(e.info.method, e.info.pattern, e.info.access, Bind(e.handler)));
  }
  return absl::OkStatus();
}

http::Handler AdminApi::Bind(Method method) {
  return OnExecutor(
      executor_.get(), [this, method](const http::HttpRequest& r) { return (this->*method)(r); },
      "admin API");
}

absl::Status AdminApi::RequireKeys() const {
  if (options_.keys != nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "authentication is off (serve --auth=none): there are no API keys to manage");
}

}  // namespace tessera::serving::rest
