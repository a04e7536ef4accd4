#include "control/autoscaler_policy.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "fmt/format.h"

namespace tessera {
namespace {

std::string FormatWindow(absl::Duration d) {
  return fmt::format("{:g}s", absl::ToDoubleSeconds(d));
}

std::string Replicas(int n) { return fmt::format("{} replica{}", n, n == 1 ? "" : "s"); }

// One signal's recommendation and how it got there.
struct SignalResult {
  int recommendation;
  std::string reason;
};

// HPA's replica calculation for one signal. `values` holds the fresh per-replica values that have
// this metric. `format_value` renders a value with its unit.
template <typename Format>
std::optional<SignalResult> Recommend(const std::vector<double>& values, double target, int current,
                                      double tolerance, std::string_view name,
                                      Format format_value) {
  if (target <= 0 || values.empty()) return std::nullopt;
  double sum = 0;
  for (double v : values) sum += v;
  const int present = static_cast<int>(values.size());
  const int missing = std::max(0, current - present);
  const int base = std::max(current, present);
  double average = sum / present;
  double ratio = average / target;
  std::string note;
  if (missing > 0 && std::abs(ratio - 1.0) > tolerance) {
    // Count replicas without a sample conservatively: 0 when scaling up, on target when down.
    const double assumed = ratio > 1.0 ? 0.0 : target;
    const double adjusted = (sum + assumed * missing) / (present + missing);
    const double new_ratio = adjusted / target;
    if ((ratio > 1.0 && new_ratio <= 1.0) || (ratio < 1.0 && new_ratio >= 1.0)) {
      // The assumption cancels the move; HPA then holds.
      return SignalResult{
          base, fmt::format("{} {} on {} of {}; counting {} without metrics as {} cancels the "
                            "change ({}): holding at {}",
                            name, format_value(average), present, Replicas(present + missing),
                            missing, format_value(assumed), format_value(adjusted), base)};
    }
    note = fmt::format(" ({} of {} without metrics counted as {})", missing,
                       Replicas(present + missing), format_value(assumed));
    average = adjusted;
    ratio = new_ratio;
  }
  const std::string shown = format_value(average);
  if (std::abs(ratio - 1.0) <= tolerance) {
    return SignalResult{
        base, fmt::format("{} {} within {:.0f}% of target {} on {}{}", name, shown, tolerance * 100,
                          format_value(target), Replicas(base), note)};
  }
  // The epsilon keeps exact products (2 * 1.5 = 3) from rounding up to the next replica.
  const int desired = static_cast<int>(std::ceil(base * ratio - 1e-9));
  return SignalResult{
      desired, fmt::format("{} {} {} target {} on {} -> {}{}", name, shown, ratio > 1.0 ? ">" : "<",
                           format_value(target), Replicas(base), desired, note)};
}

}  // namespace

std::string_view ScaleLimitName(ScaleLimit limit) {
  switch (limit) {
    case ScaleLimit::kNone:
      return "NONE";
    case ScaleLimit::kNoMetrics:
      return "NO_METRICS";
    case ScaleLimit::kStabilization:
      return "STABILIZATION";
    case ScaleLimit::kMinReplicas:
      return "MIN_REPLICAS";
    case ScaleLimit::kMaxReplicas:
      return "MAX_REPLICAS";
    case ScaleLimit::kHostCapacity:
      return "HOST_CAPACITY";
  }
  return "UNKNOWN";
}

absl::Status ValidateAutoscalerOptions(const AutoscalerOptions& o) {
  if (o.min_replica_count < 1) {
    return absl::InvalidArgumentError(
        fmt::format("min replica count must be at least 1, got {}", o.min_replica_count));
  }
  if (o.max_replica_count < o.min_replica_count) {
    return absl::InvalidArgumentError(
        fmt::format("max replica count ({}) must be at least min replica count ({})",
                    o.max_replica_count, o.min_replica_count));
  }
  if (!(o.target_cpu_utilization_percent <= 100.0)) {
    return absl::InvalidArgumentError(
        fmt::format("CPU utilization target must be at most 100 percent (0 disables it), got {}",
                    o.target_cpu_utilization_percent));
  }
  if (std::isnan(o.target_in_flight_per_replica)) {
    return absl::InvalidArgumentError("in-flight requests target is not a number");
  }
  if (o.target_cpu_utilization_percent <= 0 && o.target_in_flight_per_replica <= 0) {
    return absl::InvalidArgumentError(
        "the autoscaler needs a CPU utilization target or an in-flight requests target");
  }
  if (!(o.tolerance >= 0.0 && o.tolerance < 1.0)) {
    return absl::InvalidArgumentError(
        fmt::format("autoscaler tolerance must be in [0, 1), got {}", o.tolerance));
  }
  if (o.scale_up_stabilization_window < absl::ZeroDuration() ||
      o.scale_down_stabilization_window < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("stabilization windows must not be negative");
  }
  if (o.max_sample_age <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max sample age must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AutoscalerPolicy>> AutoscalerPolicy::Create(
    const AutoscalerOptions& options, const Clock* clock) {
  if (clock == nullptr) return absl::InvalidArgumentError("autoscaler policy needs a clock");
  absl::Status status = ValidateAutoscalerOptions(options);
  if (!status.ok()) return status;
  return std::unique_ptr<AutoscalerPolicy>(new AutoscalerPolicy(options, clock));
}

absl::Status AutoscalerPolicy::UpdateOptions(const AutoscalerOptions& options) {
  absl::Status status = ValidateAutoscalerOptions(options);
  if (status.ok()) options_ = options;
  return status;
}

AutoscalerDecision AutoscalerPolicy::Decide(const AutoscalerInput& input) {
  const absl::Time now = clock_->Now();
  const AutoscalerOptions& o = options_;
  AutoscalerDecision d;
  d.time = now;
  const int current = std::max(0, input.current_replica_count);
  d.current_replica_count = current;

  // The newest fresh sample of each replica.
  std::map<std::string, const ReplicaMetrics*> latest;
  for (const ReplicaMetrics& s : input.samples) {
    if (s.time < now - o.max_sample_age || s.time > now) continue;
    const ReplicaMetrics*& slot = latest[s.replica_id];
    if (slot == nullptr || s.time > slot->time) slot = &s;
  }
  std::vector<double> cpu, load;
  for (const auto& [id, s] : latest) {
    if (s->cpu_utilization_percent.has_value() && *s->cpu_utilization_percent >= 0) {
      cpu.push_back(*s->cpu_utilization_percent);
    }
    if (s->in_flight_requests.has_value() && *s->in_flight_requests >= 0) {
      load.push_back(*s->in_flight_requests + std::max(0.0, s->queued_requests));
    }
  }
  std::optional<SignalResult> cpu_result =
      Recommend(cpu, o.target_cpu_utilization_percent, current, o.tolerance, "cpu",
                [](double v) { return fmt::format("{:.0f}%", v); });
  std::optional<SignalResult> load_result =
      Recommend(load, o.target_in_flight_per_replica, current, o.tolerance, "in-flight",
                [](double v) { return fmt::format("{:.1f}/replica", v); });
  if (cpu_result) d.cpu_recommendation = cpu_result->recommendation;
  if (load_result) d.load_recommendation = load_result->recommendation;

  std::vector<std::string> reasons;
  bool no_metrics = false;
  if (!cpu_result && !load_result) {
    no_metrics = true;
    d.recommendation = current;
    reasons.push_back(fmt::format("no metrics from any replica in the last {}; holding at {}",
                                  FormatWindow(o.max_sample_age), current));
  } else if (cpu_result &&
             (!load_result || cpu_result->recommendation >= load_result->recommendation)) {
    d.recommendation = cpu_result->recommendation;
    reasons.push_back(cpu_result->reason);
    if (load_result) reasons.push_back(load_result->reason);
  } else {
    d.recommendation = load_result->recommendation;
    reasons.push_back(load_result->reason);
    if (cpu_result) reasons.push_back(cpu_result->reason);
  }

  // Stabilization over the remembered recommendations (HPA's stabilizeRecommendationWithBehaviors).
  const absl::Duration keep =
      std::max(o.scale_up_stabilization_window, o.scale_down_stabilization_window);
  while (!history_.empty() && history_.front().first <= now - keep) history_.pop_front();
  // Nothing observed over the window (first call, or a long pause): act as if the current count had
  // just been recommended, so a restarted control plane does not shrink a deployment at once.
  if (history_.empty()) history_.emplace_back(now, current);
  history_.emplace_back(now, d.recommendation);
  int up = d.recommendation, down = d.recommendation;
  for (const auto& [time, rec] : history_) {
    if (time > now - o.scale_up_stabilization_window) up = std::min(up, rec);
    if (time > now - o.scale_down_stabilization_window) down = std::max(down, rec);
  }
  int desired = current;
  if (desired < up) desired = up;
  if (desired > down) desired = down;
  if (no_metrics) {
    d.limited_by = ScaleLimit::kNoMetrics;
  } else if (desired != d.recommendation) {
    d.limited_by = ScaleLimit::kStabilization;
    if (d.recommendation < current) {
      reasons.push_back(fmt::format(
          "scale-down to {} held by {} stabilization window (highest recommendation in it: {})",
          d.recommendation, FormatWindow(o.scale_down_stabilization_window), desired));
    } else {
      reasons.push_back(fmt::format(
          "scale-up to {} held by {} stabilization window (lowest recommendation in it: {})",
          d.recommendation, FormatWindow(o.scale_up_stabilization_window), desired));
    }
  }

  if (desired < o.min_replica_count) {
    desired = o.min_replica_count;
    d.limited_by = ScaleLimit::kMinReplicas;
    reasons.push_back(fmt::format("raised to min {}", o.min_replica_count));
  } else if (desired > o.max_replica_count) {
    desired = o.max_replica_count;
    d.limited_by = ScaleLimit::kMaxReplicas;
    reasons.push_back(fmt::format("capped at max {}", o.max_replica_count));
  }
  if (input.host_capacity_replicas.has_value() && desired > current &&
      desired > *input.host_capacity_replicas) {
    const int capacity = std::max(0, *input.host_capacity_replicas);
    const int allowed = std::max(current, capacity);
    reasons.push_back(fmt::format(
        "wanted {} but the host can hold only {} of this model{}: {} at {}", desired,
        Replicas(capacity),
        capacity < o.min_replica_count ? fmt::format(" (below min {})", o.min_replica_count) : "",
        allowed == current ? "staying" : "capped", allowed));
    desired = allowed;
    d.limited_by = ScaleLimit::kHostCapacity;
  }
  d.desired_replica_count = desired;
  for (size_t i = 0; i < reasons.size(); ++i) {
    if (i > 0) d.reason += "; ";
    d.reason += reasons[i];
  }
  return d;
}

}  // namespace tessera
