// Autoscaler policy: how many replicas a deployed model should have.
//
// A pure policy in the Kubernetes HPA mould, fed with metric samples and an injected clock; it
// starts no thread and does no I/O. The control plane's autoscaler loop calls Decide() every few
// seconds per deployed model, logs the decision with its reason, shows it in the API and asks the
// reconciler for that many replicas. Not thread-safe: one loop owns one policy.
//
// Signals (each <= 0 target disables it; at least one must be on):
//  - CPU utilization, the signal Vertex AI documents
//    (aiplatform.googleapis.com/prediction/online/cpu/utilization, target 60% by default):
//    each replica's busy share of its cores, 0..100.
//  - Load: requests in flight plus queued per replica (what users ask for). Default target 8: about
//    one full batch (the batcher's default max_batch_size) waiting per replica, i.e. a replica has
//    started to queue work it cannot batch into the next Forward.
// For each signal with samples: ratio = average / target; inside the tolerance band
// (|ratio - 1| <= tolerance, default 10%) the signal recommends the current count, otherwise
// ceil(current * ratio). Replicas without a fresh sample are counted conservatively as HPA does:
// as 0 when the others say "scale up", as exactly on target when they say "scale down". The
// recommendation is the largest over signals (whichever needs more replicas). No fresh sample at
// all: hold the current count.
//
// Stabilization (HPA behaviour): every recommendation is remembered with its time. Scale-up uses
// the lowest recommendation of the scale-up window (default 0: immediately), scale-down the highest
// of the scale-down window (default 5 minutes): the count falls only when every recommendation in
// the window agrees it may. When the policy has no history covering the window (first call, or no
// call for a whole window) it counts the current replica count as a recommendation made now, so a
// restarted control plane never shrinks a deployment before observing a full window. Then the
// result is clamped to [min, max], and growth is refused beyond the host's capacity (never
// shrinking running replicas because of it).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace tessera {

struct AutoscalerOptions {
  int min_replica_count = 1;
  int max_replica_count = 1;
  // Average CPU utilization per replica to aim for, in percent of its cores; <= 0 disables.
  double target_cpu_utilization_percent = 60.0;
  // Average in-flight + queued requests per replica to aim for; <= 0 disables.
  double target_in_flight_per_replica = 8.0;
  // Relative band around a target inside which nothing changes (anti-flapping).
  double tolerance = 0.1;
  absl::Duration scale_up_stabilization_window = absl::ZeroDuration();
  absl::Duration scale_down_stabilization_window = absl::Minutes(5);
  // Samples older than this are ignored (a replica that stopped reporting counts as missing).
  absl::Duration max_sample_age = absl::Minutes(1);
};

// INVALID_ARGUMENT naming the bad field.
absl::Status ValidateAutoscalerOptions(const AutoscalerOptions& options);

// One observation of one replica. Fields left empty are "not measured".
struct ReplicaMetrics {
  std::string replica_id;
  absl::Time time;
  std::optional<double> cpu_utilization_percent;  // 0..100 of the replica's cores
  // Requests dispatched to the replica and not yet answered (the router's lease count).
  std::optional<double> in_flight_requests;
  // Requests waiting for the replica outside it (not counted in in_flight_requests).
  double queued_requests = 0;
};

struct AutoscalerInput {
  // Replicas the deployed model has now (the last desired count the reconciler is applying).
  int current_replica_count = 0;
  // Recent samples, several per replica allowed (the newest fresh one of each replica is used).
  std::vector<ReplicaMetrics> samples;
  // The most replicas of this deployed model the host can hold right now; nullopt = no limit.
  std::optional<int> host_capacity_replicas;
};

// What bound the final count, if anything did.
enum class ScaleLimit {
  kNone,           // the (stabilized) recommendation was applied as is
  kNoMetrics,      // no fresh sample: holding
  kStabilization,  // a stabilization window held the change back
  kMinReplicas,    // raised to min_replica_count
  kMaxReplicas,    // capped at max_replica_count
  kHostCapacity,   // growth refused: the host cannot hold more replicas
};
std::string_view ScaleLimitName(ScaleLimit limit);

struct AutoscalerDecision {
  absl::Time time;
  int current_replica_count = 0;
  int desired_replica_count = 0;
  // max over signals, before stabilization and bounds
  int recommendation = 0;
  std::optional<int> cpu_recommendation;
  std::optional<int> load_recommendation;
  ScaleLimit limited_by = ScaleLimit::kNone;
  // e.g. "cpu 85% > target 60% on 2 replicas -> 3; capped at max 2"
  std::string reason;
};

class AutoscalerPolicy {
 public:
  // `clock` is not owned and must outlive the policy.
  static absl::StatusOr<std::unique_ptr<AutoscalerPolicy>> Create(const AutoscalerOptions& options,
                                                                  const Clock* clock);

  AutoscalerDecision Decide(const AutoscalerInput& input);

  // New bounds or targets (the deployed model was updated); the recommendation history is kept.
  absl::Status UpdateOptions(const AutoscalerOptions& options);
  const AutoscalerOptions& options() const { return options_; }

 private:
  AutoscalerPolicy(const AutoscalerOptions& options, const Clock* clock)
      : options_(options), clock_(clock) {}

  AutoscalerOptions options_;
  const Clock* clock_;
  // (time, recommendation), oldest first; trimmed to the longer stabilization window.
  std::deque<std::pair<absl::Time, int>> history_;
};

}  // namespace tessera
