// Project quotas (registry::ProjectQuota): how much of the host one project may hold, checked
// when an endpoint is created and when a model is deployed, inside the same transaction as the
// write (so two concurrent deploys cannot both squeeze under the limit). Pure functions.
//
// What counts, per project (every location together, as Vertex counts per project and region):
//   endpoints       endpoints
//   deployedModels  deployed models in any state (an undeploying one still holds its replicas)
//   replicas        the max replica count of each deployed model: what it may scale to
//   cpuCores        max replicas x the machine type's vCPUs
// Over a quota: RESOURCE_EXHAUSTED (429) naming the quota, its limit and the usage it would
// reach, with an ErrorInfo detail of reason QUOTA_EXCEEDED (as Vertex refuses a deploy over its
// serving quotas). No Retry-After: waiting does not help, an admin must raise the quota.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "registry/api_key.h"
#include "registry/endpoint.h"
#include "registry/metadata_store.h"

namespace tessera::control {

struct ProjectUsage {
  int64_t endpoints = 0;
  int64_t deployed_models = 0;
  int64_t replicas = 0;
  int64_t cpu_cores = 0;
};

// What `project` holds among `endpoints` (every endpoint of every project).
ProjectUsage UsageOf(const std::vector<registry::Endpoint>& endpoints, std::string_view project);
// What one more deployed model adds.
ProjectUsage UsageOf(const registry::DeployedModel& deployed_model);

// OK when `current` plus `added` stays within `quota` for every quota `added` touches.
absl::Status CheckQuota(const registry::ProjectQuota& quota, const ProjectUsage& current,
                        const ProjectUsage& added);

// CheckQuota against the project's stored quota and its usage in the store, in `txn` (the
// transaction that then makes the change). Reads no endpoint when the project has no limits.
absl::Status CheckProjectQuota(registry::MetadataTxn& txn, const std::string& project,
                               const ProjectUsage& added);

// Checks a quota's values: each -1 (no limit) or in [0, 1e9].
absl::Status ValidateQuota(const registry::ProjectQuota& quota);

}  // namespace tessera::control
