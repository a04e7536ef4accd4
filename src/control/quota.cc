#include "control/quota.h"

#include "common/http/google_error.h"
#include "common/status_macros.h"
#include "control/deployment_rules.h"
#include "fmt/format.h"
#include "registry/resource_name.h"

namespace tessera::control {
namespace {

constexpr int64_t kMaxQuota = 1000000000;

absl::Status Exceeded(const registry::ProjectQuota& quota, std::string_view name, int64_t limit,
                      int64_t would_be) {
  absl::Status status = absl::ResourceExhaustedError(fmt::format(
      "quota exceeded for project \"{}\": {} would be {}, the quota is {} (an admin raises it: "
      "PATCH /v1/projects/{}/quotas, or `tessera quotas set`)",
      quota.project, name, would_be, limit, quota.project));
  http::SetErrorInfo(status, {.reason = "QUOTA_EXCEEDED",
                              .domain = "tessera",
                              .metadata = {{"quota", std::string(name)},
                                           {"project", quota.project},
                                           {"limit", std::to_string(limit)},
                                           {"wouldBe", std::to_string(would_be)}}});
  return status;
}

}  // namespace

ProjectUsage UsageOf(const registry::DeployedModel& dm) {
  const int64_t replicas = dm.MaxReplicaCount();
  return {.endpoints = 0,
          .deployed_models = 1,
          .replicas = replicas,
          .cpu_cores = replicas * MachineTypeOf(dm).cpu_threads};
}

ProjectUsage UsageOf(const std::vector<registry::Endpoint>& endpoints, std::string_view project) {
  ProjectUsage usage;
  for (const registry::Endpoint& e : endpoints) {
    absl::StatusOr<registry::EndpointName> name = registry::EndpointName::Parse(e.name);
    if (!name.ok() || name->parent.project != project) continue;
    ++usage.endpoints;
    for (const registry::DeployedModel& dm : e.deployed_models) {
      const ProjectUsage one = UsageOf(dm);
      usage.deployed_models += one.deployed_models;
      usage.replicas += one.replicas;
      usage.cpu_cores += one.cpu_cores;
    }
  }
  return usage;
}

absl::Status CheckQuota(const registry::ProjectQuota& quota, const ProjectUsage& current,
                        const ProjectUsage& added) {
  struct Item {
    std::string_view name;
    int64_t limit, current, added;
  };
  const Item items[] = {
      {"endpoints", quota.max_endpoints, current.endpoints, added.endpoints},
      {"deployedModels", quota.max_deployed_models, current.deployed_models, added.deployed_models},
      {"replicas", quota.max_replicas, current.replicas, added.replicas},
      {"cpuCores", quota.max_cpu_cores, current.cpu_cores, added.cpu_cores},
  };
  for (const Item& item : items) {
    if (item.limit < 0 || item.added <= 0) continue;
    if (item.current + item.added > item.limit) {
      return Exceeded(quota, item.name, item.limit, item.current + item.added);
    }
  }
  return absl::OkStatus();
}

absl::Status CheckProjectQuota(registry::MetadataTxn& txn, const std::string& project,
                               const ProjectUsage& added) {
  ASSIGN_OR_RETURN(registry::ProjectQuota quota, txn.GetProjectQuota(project));
  if (quota.max_endpoints < 0 && quota.max_deployed_models < 0 && quota.max_replicas < 0 &&
      quota.max_cpu_cores < 0) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<registry::Endpoint> endpoints, txn.ListAllEndpoints());
  return CheckQuota(quota, UsageOf(endpoints, project), added);
}

absl::Status ValidateQuota(const registry::ProjectQuota& quota) {
  for (auto [name, value] :
       {std::pair{"endpoints", quota.max_endpoints},
        std::pair{"deployedModels", quota.max_deployed_models},
        std::pair{"replicas", quota.max_replicas}, std::pair{"cpuCores", quota.max_cpu_cores}}) {
    if (value < -1 || value > kMaxQuota) {
      return absl::InvalidArgumentError(
          fmt::format("quota {} must be -1 (no limit) or in [0, {}]", name, kMaxQuota));
    }
  }
  return absl::OkStatus();
}

}  // namespace tessera::control
