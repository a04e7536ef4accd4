// The autoscaling metrics Tessera supports: the one table deploy validation
// (control/deployment_rules.h) and the autoscaler (control/autoscaler_loop.h) both read, so
// every metricName a deploy accepts is one the autoscaler applies, and a name the autoscaler
// does not know is refused at deploy with 400 naming it.
//
//   aiplatform.googleapis.com/prediction/online/cpu/utilization   target: percent of the replica's
//       cores, 1-100 (Vertex's default metric; 0 or absent: 60). CPU comes from /proc/<pid>/stat.
//   aiplatform.googleapis.com/prediction/online/request_count     target: requests per replica,
//       1-10000. Tessera applies it to the load signal: requests in flight plus queued per
//       replica (the concurrent load the replica holds), not a per-minute rate.
//   tessera.dev/prediction/online/in_flight_per_replica           the same load signal under
//       Tessera's own name.
// Refused by name: .../accelerator/duty_cycle (no accelerators) and any other metric.
#pragma once

#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "control/autoscaler_policy.h"

namespace tessera {

enum class AutoscalingSignal {
  kCpuUtilizationPercent,  // AutoscalerOptions::target_cpu_utilization_percent
  kInFlightPerReplica,     // AutoscalerOptions::target_in_flight_per_replica
};

struct AutoscalingMetric {
  std::string_view name;
  AutoscalingSignal signal;
  int max_target;  // targets are in [0, max_target]; 0 keeps the default
};

std::span<const AutoscalingMetric> SupportedAutoscalingMetrics();
// nullptr when `name` is not supported.
const AutoscalingMetric* FindAutoscalingMetric(std::string_view name);

// OK, or INVALID_ARGUMENT naming the metric (unsupported, or target out of range) and listing the
// supported ones.
absl::Status ValidateAutoscalingMetric(std::string_view name, int target);

// Sets the target of the metric's signal in `options` (a target of 0 leaves the default).
// INVALID_ARGUMENT as ValidateAutoscalingMetric.
absl::Status ApplyAutoscalingMetric(std::string_view name, int target, AutoscalerOptions& options);

}  // namespace tessera
