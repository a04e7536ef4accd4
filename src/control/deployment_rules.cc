#include "control/deployment_rules.h"

#include <algorithm>

#include "common/status_macros.h"
#include "control/autoscaling_metrics.h"
#include "control/traffic_split.h"
#include "fmt/format.h"
#include "registry/validation.h"

namespace tessera::control {
namespace {

using registry::DeployedModel;
using registry::DeployedModelState;
using registry::Endpoint;
using registry::TrafficSplit;

absl::Status ValidateReplicaCounts(std::string_view field, int32_t& min, int32_t& max,
                                   bool min_required) {
  if (min < 0 || max < 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: replica counts must not be negative", field));
  }
  if (min == 0) {
    if (min_required) {
      return absl::InvalidArgumentError(
          fmt::format("{}.minReplicaCount is required and must be at least 1", field));
    }
    min = 1;
  }
  if (max == 0) max = min;
  if (max < min) {
    return absl::InvalidArgumentError(
        fmt::format("{}.maxReplicaCount ({}) is less than minReplicaCount ({})", field, max, min));
  }
  return absl::OkStatus();
}

absl::Status CheckSplitValues(const TrafficSplit& split, const std::set<std::string>& ids) {
  // The shared policy check (keys known, values in [0, 100], sum 100 or empty).
  return tessera::ValidateTrafficSplit(split, ids);
}

}  // namespace

absl::StatusOr<MachineType> NormalizeResources(DeployedModel& dm, const HostResources& host) {
  if (dm.dedicated_resources && dm.automatic_resources) {
    return absl::InvalidArgumentError(
        "set either dedicatedResources or automaticResources, not both");
  }
  MachineType type;
  int32_t min = 0;
  if (dm.dedicated_resources) {
    registry::DedicatedResources& r = *dm.dedicated_resources;
    const registry::MachineSpec& spec = r.machine_spec;
    if (!spec.accelerator_type.empty() && spec.accelerator_type != "ACCELERATOR_TYPE_UNSPECIFIED") {
      return absl::InvalidArgumentError(fmt::format(
          "machineSpec.acceleratorType {}: this server has no accelerators (CPU only); remove it",
          spec.accelerator_type));
    }
    if (spec.accelerator_count != 0) {
      return absl::InvalidArgumentError(
          "machineSpec.acceleratorCount must be 0: this server has no accelerators (CPU only)");
    }
    if (spec.machine_type.empty()) {
      return absl::InvalidArgumentError(
          "dedicatedResources.machineSpec.machineType is required (e.g. n1-standard-4)");
    }
    ASSIGN_OR_RETURN(type, LookupMachineType(spec.machine_type));
    RETURN_IF_ERROR(ValidateReplicaCounts("dedicatedResources", r.min_replica_count,
                                          r.max_replica_count, /*min_required=*/true));
    for (const auto& m : r.autoscaling_metric_specs) {
      RETURN_IF_ERROR(ValidateAutoscalingMetric(m.metric_name, m.target));
    }
    min = r.min_replica_count;
  } else {
    if (!dm.automatic_resources) dm.automatic_resources = registry::AutomaticResources{};
    registry::AutomaticResources& r = *dm.automatic_resources;
    RETURN_IF_ERROR(ValidateReplicaCounts("automaticResources", r.min_replica_count,
                                          r.max_replica_count, /*min_required=*/false));
    ASSIGN_OR_RETURN(type, LookupMachineType(kDefaultMachineType));
    min = r.min_replica_count;
  }
  RETURN_IF_ERROR(CheckFitsHost(type, min, host));
  return type;
}

MachineType MachineTypeOf(const DeployedModel& deployed_model) {
  std::string name(kDefaultMachineType);
  if (deployed_model.dedicated_resources.has_value() &&
      !deployed_model.dedicated_resources->machine_spec.machine_type.empty()) {
    name = deployed_model.dedicated_resources->machine_spec.machine_type;
  }
  absl::StatusOr<MachineType> type = LookupMachineType(name);
  return type.ok() ? *type : MachineType{.name = name};
}

ReplicaSpec ReplicaSpecFor(const DeployedModel& dm, const MachineType& machine) {
  ReplicaSpec spec;
  spec.threads = machine.cpu_threads;
  spec.max_batch_size = dm.batching.max_batch_size;
  spec.max_queue_delay_us = dm.batching.max_queue_delay_us;
  spec.max_queue_size = dm.batching.max_queue_size;
  spec.max_instances = std::min(kDefaultMaxInstancesPerRequest, dm.batching.max_queue_size);
  spec.input_key = dm.input_key;
  spec.precision = dm.precision;
  spec.min_precision_agreement = dm.min_precision_agreement;
  return spec;
}

absl::Status ValidateServingOptions(const DeployedModel& dm, const MachineType& machine) {
  RETURN_IF_ERROR(registry::ValidateDisplayName(dm.display_name, "deployedModel.displayName"));
  return ValidateReplicaSpec(ReplicaSpecFor(dm, machine), kDeployFieldNames);
}

std::set<std::string> ServingIds(const Endpoint& endpoint) {
  std::set<std::string> ids;
  for (const auto& dm : endpoint.deployed_models) {
    if (dm.state == DeployedModelState::kDeployed) ids.insert(dm.id);
  }
  return ids;
}

absl::StatusOr<TrafficSplit> DeploySplit(const Endpoint& endpoint, const TrafficSplit& requested) {
  if (requested.empty()) {
    if (endpoint.traffic_split.empty()) return TrafficSplit{{"0", 100}};
    return endpoint.traffic_split;
  }
  std::set<std::string> ids = ServingIds(endpoint);
  ids.insert("0");
  absl::Status s = CheckSplitValues(requested, ids);
  if (!s.ok()) {
    return absl::InvalidArgumentError(fmt::format(
        "trafficSplit: {} (\"0\" names the model being deployed)", std::string(s.message())));
  }
  return requested;
}

TrafficSplit ReplaceNewModelKey(const TrafficSplit& split, const std::string& new_id) {
  TrafficSplit out;
  for (const auto& [id, percent] : split) out[id == "0" ? new_id : id] = percent;
  return out;
}

absl::StatusOr<TrafficSplit> UndeploySplit(const Endpoint& endpoint,
                                           const std::string& deployed_model_id,
                                           const TrafficSplit& requested) {
  std::set<std::string> remaining = ServingIds(endpoint);
  remaining.erase(deployed_model_id);
  if (remaining.empty()) return TrafficSplit{};
  if (!requested.empty()) {
    TrafficSplit split = requested;
    if (auto it = split.find(deployed_model_id); it != split.end()) {
      if (it->second != 0) {
        return absl::InvalidArgumentError(
            fmt::format("trafficSplit gives {}% to deployed model {}, the one being undeployed",
                        it->second, deployed_model_id));
      }
      split.erase(it);
    }
    absl::Status s = CheckSplitValues(split, remaining);
    if (!s.ok())
      return absl::InvalidArgumentError(fmt::format("trafficSplit: {}", std::string(s.message())));
    if (split.empty()) {
      return absl::InvalidArgumentError(
          "trafficSplit must give the remaining deployed models 100% in total");
    }
    return split;
  }
  TrafficSplit split = endpoint.traffic_split;
  auto it = split.find(deployed_model_id);
  if (it != split.end() && it->second > 0) {
    return absl::FailedPreconditionError(fmt::format(
        "deployed model {} receives {}% of the traffic of {}; pass a trafficSplit that moves its "
        "traffic to the remaining models (e.g. {{\"{}\": 100}})",
        deployed_model_id, it->second, endpoint.name, *remaining.begin()));
  }
  if (it != split.end()) split.erase(it);
  return split;
}

absl::Status ValidateEndpointSplit(const Endpoint& endpoint, const TrafficSplit& split) {
  absl::Status s = CheckSplitValues(split, ServingIds(endpoint));
  if (!s.ok())
    return absl::InvalidArgumentError(fmt::format("trafficSplit: {}", std::string(s.message())));
  return absl::OkStatus();
}

}  // namespace tessera::control
