// JSON codecs of Vertex AI v1 `Endpoint`, `DeployedModel` (with `DedicatedResources`,
// `MachineSpec`, `AutomaticResources`, `AutoscalingMetricSpec`) and EndpointService request
// messages. Pure functions, thread-safe.
//
// DeployedModel output carries Vertex's `status.message` set to Tessera's desired-state name
// (DEPLOYING, DEPLOYED, UNDEPLOYING) and — unless strict (model_codec.h CodecOptions) — a
// "tessera" object: {state, desiredReplicaCount, precision, inputKey,
// batching {maxBatchSize, maxQueueDelayUs, maxQueueSize}}. On input the "tessera" object sets
// precision, inputKey and batching (state and desiredReplicaCount are output only).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "control/endpoint_service.h"
#include "nlohmann/json.hpp"
#include "registry/endpoint.h"
#include "serving/rest/model_codec.h"

namespace tessera::serving::rest {

nlohmann::json DeployedModelToJson(const registry::DeployedModel& deployed_model,
                                   const CodecOptions& options = {});
nlohmann::json EndpointToJson(const registry::Endpoint& endpoint, const CodecOptions& options = {});

// Input fields of an `Endpoint` object at `path` (displayName, description, labels,
// trafficSplit, etag; output-only fields ignored).
absl::Status EndpointFromJson(const nlohmann::json& object, const std::string& path,
                              registry::Endpoint& out);
absl::Status DeployedModelFromJson(const nlohmann::json& object, const std::string& path,
                                   registry::DeployedModel& out);

// POST .../endpoints:deployModel body {deployedModel, trafficSplit?}.
absl::StatusOr<control::DeployModelRequest> DeployModelRequestFromJson(std::string_view endpoint,
                                                                       const nlohmann::json& body);
// POST .../endpoints:undeployModel body {deployedModelId, trafficSplit?}.
absl::StatusOr<control::UndeployModelRequest> UndeployModelRequestFromJson(
    std::string_view endpoint, const nlohmann::json& body);

}  // namespace tessera::serving::rest
