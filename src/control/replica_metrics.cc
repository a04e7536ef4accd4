#include "control/replica_metrics.h"

#include <map>
#include <string>
#include <utility>

namespace tessera::control {
namespace {

using metrics::FamilySnapshot;
using metrics::MetricType;
using metrics::Sample;
using Labels = std::vector<std::pair<std::string, std::string>>;

// Forward passes by batch size, as a histogram over these bounds.
const std::vector<double> kBatchSizeBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};

Labels DeployedModelLabels(const DeployedModelStatus& dm) {
  return {{"endpoint", dm.endpoint},
          {"deployed_model", dm.deployed_model_id},
          {"model", dm.model},
          {"model_version", dm.model_version_id}};
}

Labels Plus(Labels labels, std::string name, std::string value) {
  labels.emplace_back(std::move(name), std::move(value));
  return labels;
}

// Families by name, in the order they were first used.
class Families {
 public:
  FamilySnapshot& Get(const std::string& name, const std::string& help, MetricType type,
                      std::vector<double> bounds = {}) {
    auto [it, made] = index_.try_emplace(name, families_.size());
    if (made) {
      families_.push_back(
          FamilySnapshot{.name = name, .help = help, .type = type, .bounds = std::move(bounds)});
    }
    return families_[it->second];
  }
  void Add(const std::string& name, const std::string& help, MetricType type, Labels labels,
           double value) {
    Get(name, help, type).samples.push_back(Sample{.labels = std::move(labels), .value = value});
  }
  std::vector<FamilySnapshot> Take() { return std::move(families_); }

 private:
  std::map<std::string, size_t> index_;
  std::vector<FamilySnapshot> families_;
};

// The replica's forward passes by batch size as cumulative bucket counts over kBatchSizeBounds.
Sample BatchSizeSample(Labels labels, const std::map<int, int64_t>& passes) {
  Sample sample{.labels = std::move(labels)};
  sample.buckets.assign(kBatchSizeBounds.size() + 1, 0);
  for (const auto& [size, count] : passes) {
    if (count <= 0) continue;
    for (size_t i = 0; i < sample.buckets.size(); ++i) {
      if (i == kBatchSizeBounds.size() || size <= kBatchSizeBounds[i]) {
        sample.buckets[i] += static_cast<uint64_t>(count);
      }
    }
    sample.sum += static_cast<double>(size) * static_cast<double>(count);
  }
  return sample;
}

}  // namespace

std::vector<FamilySnapshot> ReplicaMetricFamilies(const std::vector<DeployedModelStatus>& status) {
  Families f;
  const MetricType gauge = MetricType::kGauge, counter = MetricType::kCounter;
  for (const DeployedModelStatus& dm : status) {
    const Labels labels = DeployedModelLabels(dm);
    f.Add("tessera_replicas_desired", "Replicas the deployed model should run.", gauge, labels,
          dm.desired_replica_count);
    f.Add("tessera_replicas_ready", "Replicas serving (in the routing table).", gauge, labels,
          dm.ready_replica_count);
    std::map<std::string, int> by_state = {
        {"STARTING", 0}, {"READY", 0}, {"FAILED", 0}, {"DRAINING", 0}};
    for (const ReplicaStatus& r : dm.replicas) ++by_state[std::string(ReplicaStateName(r.state))];
    for (const auto& [state, count] : by_state) {
      f.Add("tessera_replicas", "Replicas by state.", gauge, Plus(labels, "state", state), count);
    }
    f.Add("tessera_replica_start_failures_total",
          "Replicas of the deployed model that exited before becoming ready.", counter, labels,
          dm.start_failures);
    for (const ReplicaStatus& r : dm.replicas) {
      const Labels rl = Plus(labels, "replica", r.id);
      f.Add("tessera_replica_up", "1 while the replica is READY, else 0.", gauge, rl,
            r.state == ReplicaState::kReady ? 1 : 0);
      f.Add("tessera_replica_restarts_total", "Times the replica slot was started again.", counter,
            rl, r.restarts);
      if (r.pid <= 0) continue;  // no process: nothing below is known
      if (r.cpu_seconds >= 0) {
        f.Add("tessera_replica_cpu_seconds_total", "CPU time the replica process used.", counter,
              rl, r.cpu_seconds);
      }
      f.Add("tessera_replica_cpu_cores", "vCPUs of the replica's machine type.", gauge, rl,
            r.cpu_threads);
      f.Add("tessera_replica_resident_memory_bytes", "Resident memory (RSS).", gauge, rl,
            static_cast<double>(r.rss_bytes));
      f.Add("tessera_replica_proportional_memory_bytes",
            "Proportional set size: shared pages split between the processes sharing them.", gauge,
            rl, static_cast<double>(r.pss_bytes));
      f.Add("tessera_replica_in_flight", "Requests the router has sent it and not yet had back.",
            gauge, rl, static_cast<double>(r.in_flight));
      // Its own counters and the duty cycle (sampled at its health checks) while it is ready.
      if (r.state != ReplicaState::kReady) continue;
      f.Add("tessera_replica_cpu_utilization",
            "Share of its vCPUs the READY replica kept busy between its last two health checks "
            "(0..1, the duty cycle).",
            gauge, rl, r.cpu_utilization);
      f.Add("tessera_replica_queue_depth", "Images waiting in the replica's batch queue.", gauge,
            rl, static_cast<double>(r.queue_depth));
      f.Add("tessera_replica_rejected_requests_total",
            "Requests the replica refused because its queue was full (429).", counter, rl,
            static_cast<double>(r.rejected));
      f.Add("tessera_replica_expired_requests_total",
            "Requests the replica dropped unrun: their deadline passed.", counter, rl,
            static_cast<double>(r.expired));
      f.Add("tessera_model_load_seconds",
            "From the replica's start to ready: loading, packing and warming up its model.", gauge,
            rl, absl::ToDoubleSeconds(r.ready_since - r.started));
      f.Add("tessera_replica_info",
            "Always 1; labels say what the replica's engine computes in and with.", gauge,
            Plus(Plus(Plus(Plus(rl, "precision", r.precision), "isa", r.isa), "gemm_kernel",
                      r.gemm_kernel),
                 "attention_kernel", r.attention_kernel),
            1);
      f.Get("tessera_batch_size", "Forward passes by batch size (images).", MetricType::kHistogram,
            kBatchSizeBounds)
          .samples.push_back(BatchSizeSample(rl, r.batch_size_histogram));
    }
  }
  return f.Take();
}

void AddReplicaMetrics(metrics::MetricsRegistry& registry, DeployedModelStatusSource status) {
  registry.AddCollector([status = std::move(status)](std::vector<FamilySnapshot>& out) {
    for (FamilySnapshot& family : ReplicaMetricFamilies(status())) out.push_back(std::move(family));
  });
}

}  // namespace tessera::control
