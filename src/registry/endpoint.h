// The Endpoint and DeployedModel resources (Vertex AI v1 `Endpoint`, `DeployedModel`,
// `DedicatedResources`, `AutomaticResources`, `MachineSpec`), plus Tessera's per-deployment
// serving options. Plain data.
//
// Why here and not in control/: these are the records the MetadataStore persists, and the
// registry layer (which owns the store) may not include control. Their rules (traffic split,
// machine types, deploy/undeploy) live in control/ (control/endpoint_service.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "common/replica_spec.h"
#include "registry/rate_limit.h"

namespace tessera::registry {

// Vertex `MachineSpec`. machine_type is a name from control/machine_types.h.
struct MachineSpec {
  std::string machine_type;
  std::string
      accelerator_type;  // Tessera is CPU-only: must be empty or ACCELERATOR_TYPE_UNSPECIFIED
  int32_t accelerator_count = 0;
  bool operator==(const MachineSpec&) const = default;
};

// Vertex `AutoscalingMetricSpec` (metricName e.g.
// "aiplatform.googleapis.com/prediction/online/cpu/utilization", target in percent).
struct AutoscalingMetricSpec {
  std::string metric_name;
  int32_t target = 0;
  bool operator==(const AutoscalingMetricSpec&) const = default;
};

// Vertex `DedicatedResources`.
struct DedicatedResources {
  MachineSpec machine_spec;
  int32_t min_replica_count = 0;
  int32_t max_replica_count = 0;
  std::vector<AutoscalingMetricSpec> autoscaling_metric_specs;
  bool operator==(const DedicatedResources&) const = default;
};

// Vertex `AutomaticResources`.
struct AutomaticResources {
  int32_t min_replica_count = 0;
  int32_t max_replica_count = 0;
  bool operator==(const AutomaticResources&) const = default;
};

// Tessera: dynamic batching of one deployed model's replicas.
struct BatchingOptions {
  int32_t max_batch_size = 8;
  int64_t max_queue_delay_us = 2000;
  int32_t max_queue_size = 256;  // requests waiting per replica before new ones are refused
  bool operator==(const BatchingOptions&) const = default;
};

// Lifecycle of a DeployedModel's desired state (what the control plane recorded; the replicas'
// actual state belongs to the reconciler).
enum class DeployedModelState {
  // DeployModel accepted; the deploy operation waits for replicas to become ready. Gets no
  // traffic yet (the split is applied when the operation succeeds).
  kDeploying,
  // The deploy operation succeeded; may receive traffic per the endpoint's split.
  kDeployed,
  // UndeployModel accepted; already out of the traffic split, replicas drain, then the row is
  // removed.
  kUndeploying,
};

std::string_view DeployedModelStateName(DeployedModelState state);  // "DEPLOYING", ...
bool ParseDeployedModelState(std::string_view name, DeployedModelState& out);

struct DeployedModel {
  // --- Vertex fields ---
  std::string id;                // numeric string, allocated at deploy
  std::string model;             // projects/p/locations/l/models/{id} (no '@')
  std::string model_version_id;  // the version resolved at deploy ("@alias" resolved once)
  std::string display_name;
  absl::Time create_time = absl::InfinitePast();
  // Exactly one of the two is set once deployed (automatic resources use the default machine
  // type, see control/machine_types.h).
  std::optional<DedicatedResources> dedicated_resources;
  std::optional<AutomaticResources> automatic_resources;
  bool disable_container_logging = false;
  bool enable_access_logging = false;

  // --- Tessera fields ---
  BatchingOptions batching;
  std::string input_key = "string_input";  // TF Serving-style input name for raw image bytes
  std::string precision = "fp32";          // "fp32", "bf16" or "int8"
  // A reduced precision must agree with fp32 on at least this share of the calibration images'
  // top-1 classes at warm-up, or its replicas refuse to serve (engine/precision_agreement.h).
  double min_precision_agreement = kDefaultMinPrecisionAgreement;
  int32_t desired_replica_count = 0;       // set by the autoscaler within [min, max]
  DeployedModelState state = DeployedModelState::kDeploying;

  // The replica count bounds, whichever resources kind is set.
  int32_t MinReplicaCount() const;
  int32_t MaxReplicaCount() const;
};

// Deployed-model id -> percent of traffic; values sum to 100 (or the map is empty).
using TrafficSplit = std::map<std::string, int32_t>;

// Endpoint.predictRequestResponseLoggingConfig: a sample of the endpoint's Vertex predict requests
// and their responses, written under the server's data dir (docs/operations.md).
struct PayloadLoggingConfig {
  bool enabled = false;
  double sampling_rate = 0;   // 0..1 of requests, chosen by a hash of the request id
  bool store_images = false;  // false: an image's base64 is replaced by its sha256 and size
  bool operator==(const PayloadLoggingConfig&) const = default;
};

struct Endpoint {
  std::string name;  // projects/p/locations/l/endpoints/{id}
  std::string display_name;
  std::string description;
  std::map<std::string, std::string> labels;
  std::vector<DeployedModel> deployed_models;  // in deploy order
  TrafficSplit traffic_split;
  // clientConnectionConfig.inferenceTimeout: the most a predict may take on this endpoint
  // (the server's predict timeout and the client's deadline still apply). Zero: not set.
  absl::Duration inference_timeout = absl::ZeroDuration();
  PayloadLoggingConfig payload_logging;
  // Tessera: predicts per second across all callers (set by an admin, not by UpdateEndpoint;
  // MetadataTxn::SetEndpointRateLimit). None: no endpoint limit.
  std::optional<RateLimit> rate_limit;
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
  std::string etag;

  const DeployedModel* FindDeployedModel(std::string_view id) const;
};

}  // namespace tessera::registry
