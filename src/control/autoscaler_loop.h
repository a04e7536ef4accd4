// AutoscalerLoop: every `interval`, for each deployed model the supervisor runs, samples its ready
// replicas (the router's in-flight leases, the replica's own /status inFlight + queueDepth, and CPU
// time, which Supervisor::Status reads from /proc/<pid>/stat), feeds one AutoscalerPolicy per
// deployed model (autoscaler_policy.h), and when the decision differs from the desired replica
// count calls EndpointService::SetDesiredReplicaCount (the supervisor then starts or drains
// replicas). Every decision that changes the count, or that a limit held back, is logged with its
// reason and kept (the last max_events per deployed model) for the API.
//
// Policy options per deployed model: bounds from its min/max replica count; the CPU target from
// its autoscalingMetricSpecs (metricName ".../cpu/utilization", default 60); the load target
// (in-flight + queued per replica) from Options (a metric ".../request_count" or Tessera's
// "tessera.dev/prediction/online/in_flight_per_replica" overrides it: the table is
// control/autoscaling_metrics.h); stabilization windows from Options.
// Host capacity: replicas whose machine type's memory no longer fits the host are refused
// (control/machine_types.h), with the reason in the event.
//
// Threads: Start() starts one thread; Events() may be called from any thread; RunOnce() is for
// tests (do not mix with Start()).
#pragma once

#include <sys/types.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics/metrics.h"
#include "control/autoscaler_policy.h"
#include "control/endpoint_service.h"
#include "control/machine_types.h"
#include "control/supervisor.h"

namespace tessera::control {

struct AutoscalingEvent {
  absl::Time time;
  std::string endpoint;
  std::string deployed_model_id;
  int current_replica_count = 0;
  int desired_replica_count = 0;
  int recommendation = 0;
  std::string limited_by;  // ScaleLimitName
  std::string reason;
  std::string error;  // SetDesiredReplicaCount failed (e.g. undeployed meanwhile)
};

class AutoscalerLoop {
 public:
  struct Options {
    EndpointService* endpoints = nullptr;  // required, not owned
    // Required: the replicas now, with their CPU time (Supervisor::Status).
    std::function<std::vector<DeployedModelStatus>()> replicas;
    const Clock* clock = nullptr;  // required, not owned
    absl::Duration interval = absl::Seconds(5);
    double target_in_flight_per_replica = 8.0;
    absl::Duration scale_up_stabilization_window = absl::ZeroDuration();
    absl::Duration scale_down_stabilization_window = absl::Minutes(5);
    absl::Duration status_timeout = absl::Seconds(1);
    size_t max_events = 50;  // kept per deployed model
    // Optional, not owned: counts every recorded event, labelled endpoint, deployed_model,
    // direction ("up", "down", "hold": a limit held the count) and limited_by.
    metrics::CounterFamily* decisions = nullptr;
    HostResources host = HostResources::Detect();
  };

  static absl::StatusOr<std::unique_ptr<AutoscalerLoop>> Create(const Options& options);
  ~AutoscalerLoop();

  void Start();
  void Stop();  // idempotent

  // One round over every deployed model (what the thread does every interval).
  void RunOnce();

  // Recent events of one deployed model, oldest first.
  std::vector<AutoscalingEvent> Events(const std::string& deployed_model_id) const;

 private:
  struct CpuSample {
    double cpu_seconds = 0;
    absl::Time time;
  };
  struct ModelState {
    std::unique_ptr<AutoscalerPolicy> policy;
    std::map<pid_t, CpuSample> last_cpu;  // per replica process
  };
  explicit AutoscalerLoop(const Options& options) : options_(options) {}
  void Evaluate(const DeployedModelStatus& status, const registry::DeployedModel& dm,
                ModelState& state);
  void Record(AutoscalingEvent event);

  const Options options_;
  std::map<std::string, ModelState> models_;  // by deployed model id; loop thread only
  std::thread thread_;
  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;

  mutable absl::Mutex mu_;
  std::map<std::string, std::deque<AutoscalingEvent>> events_ ABSL_GUARDED_BY(mu_);
};

// The policy options for `deployed_model`: bounds from its replica counts, the loop's defaults,
// and its autoscalingMetricSpecs applied through control/autoscaling_metrics.h (the table deploy
// validates against).
AutoscalerOptions AutoscalerPolicyOptions(const registry::DeployedModel& deployed_model,
                                          const AutoscalerLoop::Options& loop);

}  // namespace tessera::control
