// EndpointService: endpoint rate limits and project quotas (endpoint_service.h, quota.h).
#include "common/status_macros.h"
#include "control/endpoint_service.h"
#include "fmt/format.h"
#include "registry/resource_name.h"

namespace tessera::control {

absl::StatusOr<registry::Endpoint> EndpointService::SetEndpointRateLimit(
    std::string_view name, const std::optional<registry::RateLimit>& limit) {
  ASSIGN_OR_RETURN(registry::EndpointName parsed, registry::EndpointName::Parse(name));
  const absl::Time now = options_.clock->Now();
  ASSIGN_OR_RETURN(
      registry::Endpoint endpoint,
      options_.store->TransactValue<registry::Endpoint>([&](registry::MetadataTxn& txn) {
        return txn.SetEndpointRateLimit(parsed, limit, now);
      }));
  NotifyListeners();  // the routing table carries the limit to the predict path
  return endpoint;
}

absl::StatusOr<EndpointService::QuotaReport> EndpointService::GetProjectQuota(
    const std::string& project) {
  RETURN_IF_ERROR(
      registry::LocationName::Parse(fmt::format("projects/{}/locations/x", project)).status());
  return options_.store->TransactValue<QuotaReport>(
      [&](registry::MetadataTxn& txn) -> absl::StatusOr<QuotaReport> {
        QuotaReport report;
        ASSIGN_OR_RETURN(report.quota, txn.GetProjectQuota(project));
        ASSIGN_OR_RETURN(std::vector<registry::Endpoint> endpoints, txn.ListAllEndpoints());
        report.usage = UsageOf(endpoints, project);
        return report;
      });
}

absl::StatusOr<EndpointService::QuotaReport> EndpointService::UpdateProjectQuota(
    const std::string& project, const std::function<absl::Status(registry::ProjectQuota&)>& edit) {
  RETURN_IF_ERROR(
      registry::LocationName::Parse(fmt::format("projects/{}/locations/x", project)).status());
  RETURN_IF_ERROR(options_.store->Transact([&](registry::MetadataTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(registry::ProjectQuota quota, txn.GetProjectQuota(project));
    RETURN_IF_ERROR(edit(quota));
    quota.project = project;
    RETURN_IF_ERROR(ValidateQuota(quota));
    return txn.SetProjectQuota(quota);
  }));
  // A quota below the current usage is allowed (Vertex too): it refuses new growth only.
  return GetProjectQuota(project);
}

}  // namespace tessera::control
