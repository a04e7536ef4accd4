// DeploymentWaiter: how a deploy (undeploy) operation learns that its replicas are ready
// (stopped). The control plane records desired state; replicas are started and stopped by the
// reconciler (issue 4), which implements this interface. Until then — and in tests — the
// ImmediateDeploymentWaiter below completes at once.
#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "registry/cancellation.h"
#include "registry/endpoint.h"

namespace tessera::control {

class DeploymentWaiter {
 public:
  virtual ~DeploymentWaiter() = default;

  // Called on an operation worker thread once the DeployedModel is recorded in state DEPLOYING
  // (and listeners were told). Blocks until minReplicaCount replicas serve it (model loaded and
  // warmed up), then returns OK; or returns the failure (e.g. FAILED_PRECONDITION "replica
  // exited: ...") that becomes the deploy operation's error, and the DeployedModel is removed.
  // Returns CANCELLED promptly once `cancel` fires.
  virtual absl::Status WaitUntilReady(const registry::Endpoint& endpoint,
                                      const registry::DeployedModel& deployed_model,
                                      const registry::CancellationToken& cancel) = 0;

  // Called once the DeployedModel is DEPLOYED and in the traffic split (and listeners were
  // told), before the deploy operation completes. Blocks until requests are routed by that split,
  // so that a client predicting as soon as it sees the operation done is served; best effort:
  // returns at `cancel`, at shutdown, or after `timeout` (the operation completes either way).
  virtual void WaitUntilRouted(const registry::CancellationToken& cancel,
                               absl::Duration timeout) = 0;

  // Called once the DeployedModel is out of the traffic split and in state UNDEPLOYING. Blocks
  // until its replicas have drained and stopped. Then the DeployedModel is removed.
  virtual absl::Status WaitUntilStopped(const registry::Endpoint& endpoint,
                                        const registry::DeployedModel& deployed_model,
                                        const registry::CancellationToken& cancel) = 0;
};

// Completes at once, without any replica: deploy operations succeed as soon as the desired
// state is recorded. NOT a readiness check; for tests and for running the control plane before
// the reconciler exists. Thread-safe (stateless).
class ImmediateDeploymentWaiter final : public DeploymentWaiter {
 public:
  absl::Status WaitUntilReady(const registry::Endpoint&, const registry::DeployedModel&,
                              const registry::CancellationToken&) override {
    return absl::OkStatus();
  }
  void WaitUntilRouted(const registry::CancellationToken&, absl::Duration) override {}
  absl::Status WaitUntilStopped(const registry::Endpoint&, const registry::DeployedModel&,
                                const registry::CancellationToken&) override {
    return absl::OkStatus();
  }
};

}  // namespace tessera::control
