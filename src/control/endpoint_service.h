// EndpointService: Vertex AI's EndpointService semantics (endpoints, DeployModel, UndeployModel,
// traffic splits) over the MetadataStore. It records *desired* state; replicas are the
// reconciler's job, which the deploy/undeploy operations wait for through DeploymentWaiter.
// The REST layer calls these methods with decoded requests; nothing here knows HTTP or JSON.
// The traffic-split and resource rules are in control/deployment_rules.h.
//
// Lifecycle of a deployment (registry::DeployedModelState):
//   DeployModel: validated synchronously, then recorded as DEPLOYING with an unfinished
//   operation (one transaction); a worker waits for readiness, then marks it DEPLOYED and applies
//   the split (one transaction that also completes the operation). Failure or cancellation
//   removes the DeployedModel. UndeployModel: the split is updated and the model marked
//   UNDEPLOYING (one transaction, so it stops receiving traffic at once); a worker waits for its
//   replicas to stop, then removes it and completes the operation.
// Restart: DEPLOYING and UNDEPLOYING models left by a previous run are removed at Create (their
// operations were already failed by OperationService::Create, which must run first).
//
// Change notification: listeners run after every committed change to endpoints or deployed
// models (create, update, delete, deploy/undeploy steps, desired replica counts), on the thread
// that made it, with no lock held. They must be quick (e.g. mark the routing table stale);
// generation() counts the changes.
//
// Thread-safe. Options' pointers are not owned and must outlive the service. Destroying the
// service cancels running deploy/undeploy work and waits for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "control/deployment_waiter.h"
#include "control/machine_types.h"
#include "control/quota.h"
#include "registry/endpoint.h"
#include "registry/list_query.h"
#include "registry/metadata_store.h"
#include "registry/operation.h"
#include "registry/operation_runner.h"
#include "registry/operation_service.h"

namespace tessera::control {

struct DeployModelRequest {
  std::string endpoint;  // projects/{p}/locations/{l}/endpoints/{e}
  // Used: model (required; may end in @version or @alias), display_name, dedicated_resources or
  // automatic_resources, disable_container_logging, enable_access_logging, and Tessera's
  // batching, input_key, precision. id, model_version_id, create_time, state are output only.
  registry::DeployedModel deployed_model;
  registry::TrafficSplit traffic_split;  // see deployment_rules.h
};

struct UndeployModelRequest {
  std::string endpoint;
  std::string deployed_model_id;
  registry::TrafficSplit traffic_split;
};

class EndpointService {
 public:
  struct Options {
    registry::MetadataStore* store = nullptr;
    registry::OperationService* operations = nullptr;
    DeploymentWaiter* waiter = nullptr;
    Clock* clock = nullptr;
    HostResources host = HostResources::Detect();
    int deploy_threads = 2;  // deploy/undeploy operations waiting at once
  };

  static absl::StatusOr<std::unique_ptr<EndpointService>> Create(const Options& options);
  ~EndpointService();

  // Creates an endpoint from `endpoint`'s display_name (required), description and labels;
  // `endpoint_id` "" allocates a numeric id, else [a-z][a-z0-9_-]{0,62}. Returns a done
  // Operation whose result names the endpoint. RESOURCE_EXHAUSTED over the project's endpoints
  // quota.
  absl::StatusOr<registry::Operation> CreateEndpoint(std::string_view parent,
                                                     const registry::Endpoint& endpoint,
                                                     std::string_view endpoint_id);
  absl::StatusOr<registry::Endpoint> GetEndpoint(std::string_view name);
  // Filter on display_name and labels.
  absl::StatusOr<registry::ListPage<registry::Endpoint>> ListEndpoints(
      std::string_view parent, const registry::ListQuery& query);
  // PATCH: `update_mask` lists displayName, description, labels, trafficSplit (camelCase or
  // snake_case). A non-empty etag must match (else ABORTED).
  absl::StatusOr<registry::Endpoint> UpdateEndpoint(const registry::Endpoint& endpoint,
                                                    const std::vector<std::string>& update_mask);
  // Refused (FAILED_PRECONDITION) while models are deployed. Returns a done Operation.
  absl::StatusOr<registry::Operation> DeleteEndpoint(std::string_view name);

  // Validates (model version exists in the same location, resources, machine type fits the
  // host, batching options, split, the project's quotas) and returns the running operation; its
  // result names the endpoint and the new deployed model id.
  absl::StatusOr<registry::Operation> DeployModel(const DeployModelRequest& request);
  // Validates (model deployed and DEPLOYED, split) and returns the running operation.
  absl::StatusOr<registry::Operation> UndeployModel(const UndeployModelRequest& request);

  // The autoscaler's decision for one deployed model, within [min, max] (INVALID_ARGUMENT
  // outside).
  absl::StatusOr<registry::DeployedModel> SetDesiredReplicaCount(std::string_view endpoint,
                                                                 std::string_view deployed_model_id,
                                                                 int32_t count);
  // Sets (nullopt: removes) the endpoint's predict rate limit (an admin's call, not part of
  // UpdateEndpoint: a deployer must not raise its own limit). Returns the endpoint.
  absl::StatusOr<registry::Endpoint> SetEndpointRateLimit(
      std::string_view name, const std::optional<registry::RateLimit>& limit);

  // A project's quota (control/quota.h) and what it uses now.
  struct QuotaReport {
    registry::ProjectQuota quota;
    ProjectUsage usage;
  };
  absl::StatusOr<QuotaReport> GetProjectQuota(const std::string& project);
  // Reads the project's quota, lets `edit` change it and writes it back, in one transaction (two
  // concurrent PATCHes of different quotas both land).
  absl::StatusOr<QuotaReport> UpdateProjectQuota(
      const std::string& project, const std::function<absl::Status(registry::ProjectQuota&)>& edit);

  // Every endpoint of every project/location: input of the routing table and the reconciler.
  absl::StatusOr<std::vector<registry::Endpoint>> ListAllEndpoints();

  using Listener = std::function<void()>;
  void AddListener(Listener listener);
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Blocks until no deploy/undeploy work is queued or running (tests).
  void WaitIdle();

  // What deploy admits against (cores, memory, native precisions): the supervisor checks stored
  // deployments against it too.
  const HostResources& host() const { return options_.host; }

 private:
  explicit EndpointService(const Options& options) : options_(options) {}
  absl::Status RecoverInterruptedDeployments();
  absl::StatusOr<registry::OperationResult> RunDeploy(registry::OperationContext& ctx,
                                                      const registry::EndpointName& endpoint,
                                                      const std::string& deployed_model_id,
                                                      const registry::TrafficSplit& requested);
  absl::StatusOr<registry::OperationResult> RunUndeploy(registry::OperationContext& ctx,
                                                        const registry::EndpointName& endpoint,
                                                        const std::string& deployed_model_id);
  registry::Operation NewOperation(registry::OperationKind kind, const std::string& target,
                                   bool done);
  void NotifyListeners();

  const Options options_;
  std::unique_ptr<registry::OperationRunner> runner_;
  std::atomic<uint64_t> generation_{0};
  absl::Mutex listeners_mu_;
  std::vector<Listener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
};

}  // namespace tessera::control
