// Endpoint rate limit and project quota routes of AdminApi (admin_api.h).
#include "common/status_macros.h"
#include "fmt/format.h"
#include "serving/rest/admin_api.h"
#include "serving/rest/admin_codec.h"
#include "serving/rest/json_fields.h"
#include "serving/rest/request_util.h"

namespace tessera::serving::rest {
namespace {

using nlohmann::json;

json EndpointLimitJson(const registry::Endpoint& endpoint) {
  json j = {{"endpoint", endpoint.name}};
  if (endpoint.rate_limit) j.update(RateLimitJson(*endpoint.rate_limit));
  return j;
}

}  // namespace

http::HttpResponse AdminApi::GetEndpointRateLimit(const http::HttpRequest& request) {
  absl::StatusOr<registry::Endpoint> endpoint =
      options_.endpoints->GetEndpoint(ResourceFromPath(request, "endpoints", "endpoint"));
  if (!endpoint.ok()) return Error(endpoint.status());
  return Ok(EndpointLimitJson(*endpoint));
}

http::HttpResponse AdminApi::SetEndpointRateLimit(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  const std::string name = ResourceFromPath(request, "endpoints", "endpoint");
  json limit_fields = *body;
  // A GET body sent back names its endpoint; it must be this one.
  if (const auto it = limit_fields.find("endpoint"); it != limit_fields.end()) {
    if (!it->is_string() || it->get<std::string>() != name) {
      return Error(absl::InvalidArgumentError(
          fmt::format("endpoint must be the one in the URL, {}, or absent", name)));
    }
    limit_fields.erase(it);
  }
  absl::StatusOr<registry::RateLimit> limit = RateLimitFromJson(limit_fields, "rateLimit");
  if (!limit.ok()) return Error(limit.status());
  absl::StatusOr<registry::Endpoint> endpoint =
      options_.endpoints->SetEndpointRateLimit(name, *limit);
  if (!endpoint.ok()) return Error(endpoint.status());
  return Ok(EndpointLimitJson(*endpoint));
}

http::HttpResponse AdminApi::ClearEndpointRateLimit(const http::HttpRequest& request) {
  absl::StatusOr<registry::Endpoint> endpoint = options_.endpoints->SetEndpointRateLimit(
      ResourceFromPath(request, "endpoints", "endpoint"), std::nullopt);
  if (!endpoint.ok()) return Error(endpoint.status());
  return Ok(EndpointLimitJson(*endpoint));
}

http::HttpResponse AdminApi::GetQuota(const http::HttpRequest& request) {
  absl::StatusOr<control::EndpointService::QuotaReport> report =
      options_.endpoints->GetProjectQuota(request.PathParam("project"));
  if (!report.ok()) return Error(report.status());
  return Ok(QuotaReportJson(*report));
}

http::HttpResponse AdminApi::SetQuota(const http::HttpRequest& request) {
  if (request.body.empty()) {
    return Error(absl::InvalidArgumentError(
        "the request body is required: {\"endpoints\": N, \"deployedModels\": N, "
        "\"replicas\": N, \"cpuCores\": N} (-1 removes a limit)"));
  }
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  const std::string& project = request.PathParam("project");
  if (const auto it = body->find("project"); it != body->end()) {
    if (!it->is_string() || it->get<std::string>() != project) {
      return Error(absl::InvalidArgumentError(
          fmt::format("project must be the one in the URL, \"{}\", or absent", project)));
    }
  }
  bool changes = false;
  for (const auto& item : body->items()) changes = changes || item.key() != "project";
  if (!changes) {
    return Error(absl::InvalidArgumentError(
        "nothing to change: give endpoints, deployedModels, replicas or cpuCores"));
  }
  absl::StatusOr<control::EndpointService::QuotaReport> report =
      options_.endpoints->UpdateProjectQuota(
          project, [&](registry::ProjectQuota& quota) { return MergeQuotaJson(*body, quota); });
  if (!report.ok()) return Error(report.status());
  return Ok(QuotaReportJson(*report));
}

}  // namespace tessera::serving::rest
