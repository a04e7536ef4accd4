// The rules of DeployModel / UndeployModel / UpdateEndpoint as pure functions over an Endpoint
// snapshot (EndpointService applies them inside its transactions). Vertex AI v1 semantics, with
// the Tessera choices marked:
//
// DeployModel trafficSplit:
//   - non-empty: replaces the endpoint's split when the deploy succeeds; "0" names the model
//     being deployed; keys must be "0" or models already DEPLOYED on the endpoint; values in
//     [0, 100] summing to 100.
//   - empty: the split is unchanged (Vertex), except (Tessera) when the endpoint's split is empty,
//     i.e. nothing receives traffic yet: then the new model gets 100, so the first deploy of an
//     endpoint serves without a second call.
// UndeployModel trafficSplit:
//   - if no other DEPLOYED model remains, the split ends empty whatever was passed (Vertex);
//   - non-empty: replaces the split; it may name the undeployed model only with 0; keys must be
//     the remaining DEPLOYED models; sums to 100;
//   - empty: refused (FAILED_PRECONDITION) while the undeployed model has traffic (Vertex: a model
//     is undeployed only if it has no traffic or the request moves it); otherwise its 0 entry is
//     dropped.
// UpdateEndpoint trafficSplit: keys must be DEPLOYED models; values sum to 100, or the split is
//   empty (the endpoint then takes no traffic).
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/replica_spec.h"
#include "control/machine_types.h"
#include "registry/endpoint.h"

namespace tessera::control {

// Checks and completes the resources of a DeployedModel being deployed: exactly one of
// dedicated/automatic (neither: automatic), machine type known and CPU-only, 1 <= min <= max
// (max 0 means min), autoscaling metrics known, and min replicas fit the host. Returns the
// machine type the replicas get.
absl::StatusOr<MachineType> NormalizeResources(registry::DeployedModel& deployed_model,
                                               const HostResources& host);

// The machine type the replicas of an accepted deployment run on: its machineSpec.machineType, or
// kDefaultMachineType. Validated at deploy; a name the table has lost since gets 0 threads (every
// CPU) and no memory figure.
MachineType MachineTypeOf(const registry::DeployedModel& deployed_model);

// What the replicas of `deployed_model` run with on `machine` (the supervisor passes it as flags).
// max_instances is kDefaultMaxInstancesPerRequest, or the queue size when that is smaller.
ReplicaSpec ReplicaSpecFor(const registry::DeployedModel& deployed_model,
                           const MachineType& machine);

// The display name, and the replica spec with the validator `tessera replica` applies at start
// (common/replica_spec.h), so what is accepted here starts.
absl::Status ValidateServingOptions(const registry::DeployedModel& deployed_model,
                                    const MachineType& machine);

// Ids of the endpoint's models in state DEPLOYED (the only ones a split may name).
std::set<std::string> ServingIds(const registry::Endpoint& endpoint);

// The split a successful deploy applies, still with "0" for the new model.
absl::StatusOr<registry::TrafficSplit> DeploySplit(const registry::Endpoint& endpoint,
                                                   const registry::TrafficSplit& requested);
// `split` with "0" replaced by `new_id`.
registry::TrafficSplit ReplaceNewModelKey(const registry::TrafficSplit& split,
                                          const std::string& new_id);

// The split after undeploying `deployed_model_id`.
absl::StatusOr<registry::TrafficSplit> UndeploySplit(const registry::Endpoint& endpoint,
                                                     const std::string& deployed_model_id,
                                                     const registry::TrafficSplit& requested);

// A split for UpdateEndpoint.
absl::Status ValidateEndpointSplit(const registry::Endpoint& endpoint,
                                   const registry::TrafficSplit& split);

}  // namespace tessera::control
