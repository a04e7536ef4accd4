#include "control/autoscaling_metrics.h"

#include <string>

#include "fmt/format.h"

namespace tessera {
namespace {

constexpr AutoscalingMetric kMetrics[] = {
    {"aiplatform.googleapis.com/prediction/online/cpu/utilization",
     AutoscalingSignal::kCpuUtilizationPercent, 100},
    {"aiplatform.googleapis.com/prediction/online/request_count",
     AutoscalingSignal::kInFlightPerReplica, 10'000},
    {"tessera.dev/prediction/online/in_flight_per_replica", AutoscalingSignal::kInFlightPerReplica,
     10'000},
};

std::string SupportedList() {
  std::string list;
  for (const AutoscalingMetric& m : kMetrics) {
    if (!list.empty()) list += ", ";
    list += fmt::format("{} (target 1-{})", m.name, m.max_target);
  }
  return list;
}

}  // namespace

std::span<const AutoscalingMetric> SupportedAutoscalingMetrics() { return kMetrics; }

const AutoscalingMetric* FindAutoscalingMetric(std::string_view name) {
  for (const AutoscalingMetric& m : kMetrics) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

absl::Status ValidateAutoscalingMetric(std::string_view name, int target) {
  const AutoscalingMetric* metric = FindAutoscalingMetric(name);
  if (metric == nullptr) {
    const bool accelerator = name.find("/accelerator/") != std::string_view::npos;
    // The name may be anything a client sent: bounded in the message.
    return absl::InvalidArgumentError(
        fmt::format("autoscalingMetricSpecs: unsupported metricName \"{}\"{}; supported: {}",
                    name.substr(0, 200), accelerator ? " (this server has no accelerators)" : "",
                    SupportedList()));
  }
  if (target < 0 || target > metric->max_target) {
    return absl::InvalidArgumentError(
        fmt::format("autoscalingMetricSpecs: target {} for {} is out of range [1, {}] (0: default)",
                    target, metric->name, metric->max_target));
  }
  return absl::OkStatus();
}

absl::Status ApplyAutoscalingMetric(std::string_view name, int target, AutoscalerOptions& options) {
  absl::Status valid = ValidateAutoscalingMetric(name, target);
  if (!valid.ok()) return valid;
  if (target == 0) return absl::OkStatus();
  switch (FindAutoscalingMetric(name)->signal) {
    case AutoscalingSignal::kCpuUtilizationPercent:
      options.target_cpu_utilization_percent = target;
      break;
    case AutoscalingSignal::kInFlightPerReplica:
      options.target_in_flight_per_replica = target;
      break;
  }
  return absl::OkStatus();
}

}  // namespace tessera
