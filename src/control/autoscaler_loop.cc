#include "control/autoscaler_loop.h"

#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>

#include "common/current_exception.h"
#include "control/autoscaling_metrics.h"
#include "control/deployment_rules.h"
#include "control/replica_client.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::control {

AutoscalerOptions AutoscalerPolicyOptions(const registry::DeployedModel& dm,
                                          const AutoscalerLoop::Options& loop) {
  AutoscalerOptions options;
  options.min_replica_count = std::max(1, dm.MinReplicaCount());
  options.max_replica_count = std::max(options.min_replica_count, dm.MaxReplicaCount());
  options.target_in_flight_per_replica = loop.target_in_flight_per_replica;
  options.scale_up_stabilization_window = loop.scale_up_stabilization_window;
  options.scale_down_stabilization_window = loop.scale_down_stabilization_window;
  if (dm.dedicated_resources.has_value()) {
    for (const auto& spec : dm.dedicated_resources->autoscaling_metric_specs) {
      // Deploy validated the specs against the same table: an error here means the stored
      // deployment predates it; the metric is skipped, loudly.
      absl::Status applied = ApplyAutoscalingMetric(spec.metric_name, spec.target, options);
      if (!applied.ok()) {
        spdlog::warn("autoscaler: deployed model {}: {}", dm.id, std::string(applied.message()));
      }
    }
  }
  return options;
}

absl::StatusOr<std::unique_ptr<AutoscalerLoop>> AutoscalerLoop::Create(const Options& options) {
  if (options.endpoints == nullptr || !options.replicas || options.clock == nullptr) {
    return absl::InvalidArgumentError("AutoscalerLoop: endpoints, replicas and clock are required");
  }
  if (options.interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("AutoscalerLoop: interval must be positive");
  }
  return std::unique_ptr<AutoscalerLoop>(new AutoscalerLoop(options));
}

AutoscalerLoop::~AutoscalerLoop() { Stop(); }

void AutoscalerLoop::Start() {
  thread_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&stop_mu_);
        stop_mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.interval);
        if (stop_) return;
      }
      // A failed evaluation must not end autoscaling: log it; the next interval tries again.
      try {
        RunOnce();
      } catch (...) {
        spdlog::error("autoscaler: evaluation threw {}; retrying next interval",
                      CurrentExceptionMessage());
      }
    }
  });
}

void AutoscalerLoop::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

std::vector<AutoscalingEvent> AutoscalerLoop::Events(const std::string& deployed_model_id) const {
  absl::MutexLock lock(&mu_);
  auto it = events_.find(deployed_model_id);
  if (it == events_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

void AutoscalerLoop::Record(AutoscalingEvent event) {
  if (options_.decisions != nullptr) {
    const int from = event.current_replica_count, to = event.desired_replica_count;
    options_.decisions
        ->With({event.endpoint, event.deployed_model_id,
                to > from ? "up" : (to < from ? "down" : "hold"), event.limited_by})
        ->Increment();
  }
  absl::MutexLock lock(&mu_);
  std::deque<AutoscalingEvent>& events = events_[event.deployed_model_id];
  events.push_back(std::move(event));
  while (events.size() > options_.max_events) events.pop_front();
}

void AutoscalerLoop::RunOnce() {
  absl::StatusOr<std::vector<registry::Endpoint>> endpoints =
      options_.endpoints->ListAllEndpoints();
  if (!endpoints.ok()) {
    spdlog::warn("autoscaler: cannot list endpoints: {}", endpoints.status().ToString());
    return;
  }
  std::map<std::string, const registry::DeployedModel*> deployed;
  for (const registry::Endpoint& endpoint : *endpoints) {
    for (const registry::DeployedModel& dm : endpoint.deployed_models) {
      if (dm.state == registry::DeployedModelState::kDeployed) deployed[dm.id] = &dm;
    }
  }
  std::vector<DeployedModelStatus> statuses = options_.replicas();
  std::set<std::string> alive;
  for (const DeployedModelStatus& status : statuses) {
    auto it = deployed.find(status.deployed_model_id);
    if (it == deployed.end()) continue;
    const registry::DeployedModel& dm = *it->second;
    if (dm.MaxReplicaCount() <= std::max(1, dm.MinReplicaCount())) continue;  // nothing to scale
    alive.insert(dm.id);
    ModelState& state = models_[dm.id];
    Evaluate(status, dm, state);
  }
  for (auto it = models_.begin(); it != models_.end();) {
    it = alive.count(it->first) ? std::next(it) : models_.erase(it);
  }
  absl::MutexLock lock(&mu_);
  for (auto it = events_.begin(); it != events_.end();) {
    it = deployed.count(it->first) ? std::next(it) : events_.erase(it);
  }
}

void AutoscalerLoop::Evaluate(const DeployedModelStatus& status, const registry::DeployedModel& dm,
                              ModelState& state) {
  const AutoscalerOptions policy_options = AutoscalerPolicyOptions(dm, options_);
  if (state.policy == nullptr) {
    absl::StatusOr<std::unique_ptr<AutoscalerPolicy>> policy =
        AutoscalerPolicy::Create(policy_options, options_.clock);
    if (!policy.ok()) {
      spdlog::warn("autoscaler: deployed model {}: {}", dm.id, policy.status().ToString());
      return;
    }
    state.policy = std::move(*policy);
  } else if (absl::Status s = state.policy->UpdateOptions(policy_options); !s.ok()) {
    spdlog::warn("autoscaler: deployed model {}: {}", dm.id, s.ToString());
    return;
  }
  const MachineType machine = MachineTypeOf(dm);
  const int cores = std::max(1, std::min(machine.cpu_threads, options_.host.cpu_count));
  const absl::Time now = options_.clock->Now();
  AutoscalerInput input;
  input.current_replica_count = status.desired_replica_count;
  std::map<pid_t, CpuSample> cpu_now;
  for (const ReplicaStatus& replica : status.replicas) {
    if (replica.state != ReplicaState::kReady || replica.pid <= 0) continue;
    ReplicaMetrics metrics;
    metrics.replica_id = replica.id;
    metrics.time = now;
    double in_flight = static_cast<double>(replica.in_flight);
    absl::StatusOr<std::unique_ptr<ReplicaClient>> client =
        ReplicaClient::Create(ReplicaClient::Options{.address = replica.address});
    if (client.ok()) {
      absl::StatusOr<ReplicaStatusInfo> info = (*client)->Status(options_.status_timeout);
      if (info.ok()) {
        in_flight = std::max(in_flight, static_cast<double>(info->in_flight));
      }
    }
    metrics.in_flight_requests = in_flight;
    // Read from /proc by the supervisor's Status(), a moment ago.
    const double cpu_seconds = replica.cpu_seconds;
    if (cpu_seconds >= 0) {
      cpu_now[replica.pid] = CpuSample{.cpu_seconds = cpu_seconds, .time = now};
      auto last = state.last_cpu.find(replica.pid);
      if (last != state.last_cpu.end() && now > last->second.time) {
        const double wall = absl::ToDoubleSeconds(now - last->second.time);
        metrics.cpu_utilization_percent = std::clamp(
            (cpu_seconds - last->second.cpu_seconds) / (wall * cores) * 100.0, 0.0, 100.0);
      }
    }
    input.samples.push_back(std::move(metrics));
  }
  state.last_cpu = std::move(cpu_now);
  // Host capacity by the machine types' memory (the admission rule of DeployModel).
  if (machine.memory_bytes > 0 && options_.host.memory_bytes > 0) {
    input.host_capacity_replicas =
        static_cast<int>(options_.host.memory_bytes / machine.memory_bytes);
  }
  AutoscalerDecision decision = state.policy->Decide(input);
  const bool change = decision.desired_replica_count != decision.current_replica_count;
  const bool held_back = decision.recommendation != decision.current_replica_count &&
                         decision.limited_by != ScaleLimit::kNone &&
                         decision.limited_by != ScaleLimit::kNoMetrics;
  if (!change && !held_back) return;
  AutoscalingEvent event{.time = decision.time,
                         .endpoint = status.endpoint,
                         .deployed_model_id = dm.id,
                         .current_replica_count = decision.current_replica_count,
                         .desired_replica_count = decision.desired_replica_count,
                         .recommendation = decision.recommendation,
                         .limited_by = std::string(ScaleLimitName(decision.limited_by)),
                         .reason = decision.reason,
                         .error = ""};
  if (!change) {
    // Held back: record it once per distinct situation, not every interval.
    std::vector<AutoscalingEvent> previous = Events(dm.id);
    if (!previous.empty() && previous.back().limited_by == event.limited_by &&
        previous.back().recommendation == event.recommendation &&
        previous.back().desired_replica_count == event.desired_replica_count) {
      return;
    }
    spdlog::info("autoscaler: deployed model {}: holding {} replicas: {}", dm.id,
                 decision.current_replica_count, decision.reason);
    Record(std::move(event));
    return;
  }
  absl::StatusOr<registry::DeployedModel> updated = options_.endpoints->SetDesiredReplicaCount(
      status.endpoint, dm.id, decision.desired_replica_count);
  if (!updated.ok()) event.error = updated.status().ToString();
  spdlog::info("autoscaler: deployed model {}: {} -> {} replicas: {}{}", dm.id,
               decision.current_replica_count, decision.desired_replica_count, decision.reason,
               updated.ok() ? "" : " (not applied: " + event.error + ")");
  Record(std::move(event));
}

}  // namespace tessera::control
