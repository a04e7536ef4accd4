#include "control/supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <utility>

#include "common/current_exception.h"
#include "common/status_macros.h"
#include "control/deployment_rules.h"
#include "control/machine_types.h"
#include "control/process_launcher.h"
#include "control/process_stats.h"
#include "control/replica_client.h"
#include "control/replica_leftovers.h"
#include "control/replica_prober.h"
#include "control/socket_dir.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::control {
namespace {

using registry::DeployedModel;
using registry::DeployedModelState;
using registry::Endpoint;

// Probe workers: one hung replica holds one for a health timeout at a time.
constexpr int kProbeThreads = 4;

// Resident memory, and its proportional share: pages shared with other processes (the packed
// weights every replica of a version maps) count 1/N in each of N, so PSS sums to real use.
// CPU time too (now, not as of the last health check).
void ReadMemory(ReplicaStatus& replica) {
  replica.rss_bytes = ReadProcKilobytes(replica.pid, "status", "VmRSS");
  replica.pss_bytes = ReadProcKilobytes(replica.pid, "smaps_rollup", "Pss");
  replica.cpu_seconds = ProcessCpuSeconds(replica.pid);
}

int ReplicaThreads(const DeployedModel& dm) { return MachineTypeOf(dm).cpu_threads; }

// A replica's bytes of queued images may take this share of its machine type's memory: the rest
// is the model, its activations and the process itself (ViT-B/16 at batch 8: ~0.5 GiB of the
// 7.5 GiB of an n1-standard-2). The queue's count limit still applies on top.
constexpr int64_t kQueuedBytesShareOfMemory = 4;

int64_t ReplicaMaxQueuedMib(const DeployedModel& dm) {
  const MachineType type = MachineTypeOf(dm);
  if (type.memory_bytes <= 0) return 0;
  return std::max<int64_t>(1, (type.memory_bytes / kQueuedBytesShareOfMemory) >> 20);
}

}  // namespace

std::string_view ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kStarting:
      return "STARTING";
    case ReplicaState::kReady:
      return "READY";
    case ReplicaState::kFailed:
      return "FAILED";
    case ReplicaState::kDraining:
      return "DRAINING";
  }
  return "UNKNOWN";
}

// Shared between the supervisor and the EndpointService listener, which may outlive it.
struct Supervisor::Wake {
  absl::Mutex mu;
  bool dirty ABSL_GUARDED_BY(mu) = true;
  bool stop ABSL_GUARDED_BY(mu) = false;
};

// Everything the reconcile thread owns. Only that thread touches it (no lock).
class Supervisor::Reconciler {
 public:
  explicit Reconciler(const Options& options) : options_(options) {}

  // One pass: apply the desired state (when `endpoints` is set), advance every replica's state
  // machine, publish the routing table when it changed. Returns the summary.
  std::map<std::string, DeployedModelStatus> Step(const std::vector<Endpoint>* endpoints,
                                                  bool stopping);
  bool Idle() const { return groups_.empty(); }

 private:
  struct Replica {
    int slot = 0;
    std::string id;
    std::string socket_path;
    ReplicaState state = ReplicaState::kFailed;
    std::unique_ptr<ChildProcess> process;
    std::shared_ptr<ReplicaLoad> load;
    std::shared_ptr<ReplicaClient> client;
    // Health and status probes run off this thread (a hung replica must not hold it): a new
    // slot per process, so a late answer from the previous one is never taken for this one's.
    std::shared_ptr<ProbeSlot> probe;
    int restarts = 0;
    int64_t weight_bytes = 0;  // reported by the replica when it became ready
    int64_t shared_weight_bytes = 0;
    ReplicaStatusInfo counters;  // its /status, refreshed with every good health check
    // Its CPU time at the last good health check, and its utilization since the one before.
    double cpu_seconds = -1;
    absl::Time cpu_sampled = absl::InfinitePast();
    double cpu_utilization = 0;
    int consecutive_failures = 0;
    int health_failures = 0;
    std::string probe_error;  // why the last health check failed
    bool term_sent = false;
    bool kill_sent = false;
    absl::Time started = absl::InfinitePast();
    absl::Time ready_since = absl::InfinitePast();
    absl::Time next_health_check = absl::InfinitePast();
    absl::Time next_restart = absl::InfinitePast();
    absl::Time drain_started = absl::InfinitePast();
    absl::Time term_sent_at = absl::InfinitePast();
    std::string last_error;
  };
  struct Group {
    std::string endpoint;
    DeployedModel dm;
    bool present = true;  // still in the desired state (DEPLOYING or DEPLOYED)
    int desired = 0;
    bool prepared = false;
    absl::Time next_prepare = absl::InfinitePast();
    int prepare_failures = 0;
    std::string model_dir;
    // The replicas' shared prepacked weights:
    // DATA_DIR/packed/<artifact digest>-t<threads>-<precision>.packed
    // (threads: the packed layout may depend on them). Deleted with the group.
    std::filesystem::path packed_weights;
    std::string model_display_name;
    int start_failures = 0;
    std::string last_error;
    std::vector<std::unique_ptr<Replica>> replicas;  // by slot
  };

  void ApplyDesired(const std::vector<Endpoint>& endpoints, bool stopping);
  void StepGroup(Group& group, absl::Time now);
  bool Prepare(Group& group, absl::Time now);
  void Launch(Group& group, Replica& replica, absl::Time now);
  void StepStarting(Group& group, Replica& replica, absl::Time now);
  void StepReady(Group& group, Replica& replica, absl::Time now);
  // Moves a running replica to kFailed (killing it if still alive) and schedules its restart.
  void Fail(Group& group, Replica& replica, std::string reason, absl::Time now);
  // Deletes the group's packed weight file unless another group uses the same one.
  void RemovePackedWeights(const Group& group);
  // kDraining now; the router's leases are refused only once a routing table without the
  // replica is published (StartPendingDrains), so no pick ever finds it draining in the table
  // it reads.
  void StartDrain(Replica& replica, absl::Time now);
  // After PublishRoutingTable: refuses new leases on the replicas StartDrain took out.
  void StartPendingDrains();
  // Returns true once the replica's process is gone.
  bool StepDraining(Replica& replica, absl::Time now);
  // Starts a probe (health, then status) when none runs and one is due.
  void StartProbe(Replica& replica, absl::Time now);
  // Reads the replica's CPU time and updates its utilization over the time since the last read.
  static void SampleCpu(Replica& replica, int threads, absl::Time now);
  // A probe running longer than this counts as a failed check (it ends by itself later).
  absl::Duration ProbeDeadline() const {
    return 2 * options_.health_check_timeout + options_.health_check_interval;
  }
  absl::Duration Backoff(int failures) const;
  void PublishRoutingTable();
  std::map<std::string, DeployedModelStatus> Summary() const;

  const Options options_;
  // Declared before the replicas, destroyed after them: its workers may still run their probes.
  ProbePool probes_{kProbeThreads};
  std::vector<Endpoint> endpoints_;      // the latest desired state
  std::map<std::string, Group> groups_;  // by deployed model id
  bool routing_dirty_ = true;
  uint64_t routing_generation_ = 0;
  // Loads of replicas that left the routing table in this step, to drain once it is published.
  std::vector<std::shared_ptr<ReplicaLoad>> pending_drains_;
};

void Supervisor::Reconciler::ApplyDesired(const std::vector<Endpoint>& endpoints, bool stopping) {
  endpoints_ = endpoints;
  routing_dirty_ = true;
  std::set<std::string> seen;
  for (const Endpoint& endpoint : endpoints_) {
    for (const DeployedModel& dm : endpoint.deployed_models) {
      seen.insert(dm.id);
      auto [it, inserted] = groups_.try_emplace(dm.id);
      Group& group = it->second;
      if (inserted) {
        group.endpoint = endpoint.name;
        spdlog::info("supervisor: deployed model {} ({}@{}) on {}: {}", dm.id, dm.model,
                     dm.model_version_id, endpoint.name,
                     registry::DeployedModelStateName(dm.state));
      }
      group.dm = dm;
      group.present = !stopping && dm.state != DeployedModelState::kUndeploying;
      const int desired =
          group.present ? std::max({1, dm.MinReplicaCount(), dm.desired_replica_count}) : 0;
      if (desired != group.desired) {
        spdlog::info("supervisor: deployed model {}: {} -> {} replicas", dm.id, group.desired,
                     desired);
        group.desired = desired;
      }
    }
  }
  for (auto& [id, group] : groups_) {
    if (seen.count(id) == 0 || stopping) {
      if (group.present || group.desired != 0) {
        spdlog::info("supervisor: deployed model {} removed: stopping its replicas", id);
      }
      group.present = false;
      group.desired = 0;
    }
  }
}

std::map<std::string, DeployedModelStatus> Supervisor::Reconciler::Step(
    const std::vector<Endpoint>* endpoints, bool stopping) {
  if (endpoints != nullptr) ApplyDesired(*endpoints, stopping);
  const absl::Time now = absl::Now();
  for (auto it = groups_.begin(); it != groups_.end();) {
    StepGroup(it->second, now);
    if (!it->second.present && it->second.replicas.empty()) {
      RemovePackedWeights(it->second);
      it = groups_.erase(it);
      routing_dirty_ = true;
    } else {
      ++it;
    }
  }
  if (routing_dirty_) PublishRoutingTable();
  StartPendingDrains();
  return Summary();
}

void Supervisor::Reconciler::RemovePackedWeights(const Group& group) {
  if (group.packed_weights.empty()) return;
  for (const auto& [id, other] : groups_) {
    if (&other != &group && other.packed_weights == group.packed_weights) return;
  }
  std::error_code ec;
  std::filesystem::remove(group.packed_weights, ec);
  std::filesystem::remove(group.packed_weights.string() + ".lock", ec);
}

bool Supervisor::Reconciler::Prepare(Group& group, absl::Time now) {
  if (group.prepared) return true;
  if (now < group.next_prepare) return false;
  const std::string versioned = fmt::format("{}@{}", group.dm.model, group.dm.model_version_id);
  absl::StatusOr<registry::Model> model = options_.models->GetModel(versioned);
  absl::StatusOr<std::filesystem::path> dir =
      model.ok() ? options_.models->ArtifactDir(versioned) : model.status();
  if (!dir.ok()) {
    group.last_error =
        fmt::format("cannot prepare model {}: {}", versioned, std::string(dir.status().message()));
    ++group.start_failures;
    group.next_prepare = now + Backoff(++group.prepare_failures);
    spdlog::error("supervisor: deployed model {}: {}", group.dm.id, group.last_error);
    return false;
  }
  // A deployment stored before deploy checked precisions (or a data dir moved to another host)
  // may ask for one this host cannot run: it waits with the reason instead of crash-looping
  // replicas. Only a checked precision goes into the file name below.
  const ReplicaSpec spec = ReplicaSpecFor(group.dm, MachineTypeOf(group.dm));
  absl::Status runnable = ValidateReplicaSpec(spec, kDeployFieldNames);
  if (runnable.ok()) runnable = CheckHostRunsPrecision(spec.precision, options_.endpoints->host());
  if (!runnable.ok()) {
    group.last_error = fmt::format("cannot run deployed model {}: {}", group.dm.id,
                                   std::string(runnable.message()));
    ++group.start_failures;
    group.next_prepare = now + Backoff(++group.prepare_failures);
    spdlog::error("supervisor: {}", group.last_error);
    return false;
  }
  group.model_dir = dir->string();
  group.packed_weights = options_.data_dir / "packed" /
                         fmt::format("{}-t{}-{}.packed", model->artifact_digest,
                                     ReplicaThreads(group.dm), group.dm.precision);
  group.model_display_name = model->display_name;
  group.prepared = true;
  routing_dirty_ = true;  // the display name is now known
  return true;
}

void Supervisor::Reconciler::Launch(Group& group, Replica& replica, absl::Time now) {
  replica.id = fmt::format("{}-{}", group.dm.id, replica.slot);
  absl::StatusOr<std::string> socket_path = ReplicaSocketPath(options_.data_dir, replica.id);
  if (!socket_path.ok()) {
    replica.started = now;
    replica.state = ReplicaState::kFailed;
    replica.last_error = fmt::format("replica {} could not start: {}", replica.id,
                                     std::string(socket_path.status().message()));
    group.last_error = replica.last_error;
    ++group.start_failures;
    replica.next_restart = now + Backoff(++replica.consecutive_failures);
    spdlog::error("supervisor: {}", replica.last_error);
    return;
  }
  replica.socket_path = std::move(*socket_path);
  std::error_code ec;
  std::filesystem::remove(replica.socket_path, ec);
  const DeployedModel& dm = group.dm;
  LaunchOptions launch;
  launch.binary = options_.self_binary;
  launch.args = {"replica",
                 "--model",
                 group.model_dir,
                 "--socket",
                 replica.socket_path,
                 "--packed-weights",
                 group.packed_weights.string()};
  // The spec deploy validated, with the validator the replica applies again.
  const ReplicaSpec spec = ReplicaSpecFor(dm, MachineTypeOf(dm));
  const std::vector<std::string> spec_flags = ReplicaSpecFlags(spec);
  launch.args.insert(launch.args.end(), spec_flags.begin(), spec_flags.end());
  if (const int64_t mib = ReplicaMaxQueuedMib(dm); mib > 0) {
    launch.args.insert(launch.args.end(), {"--max-queued-mib", std::to_string(mib)});
  }
  launch.args.insert(
      launch.args.end(),
      {"--drain-timeout-s", fmt::format("{:g}", absl::ToDoubleSeconds(options_.drain_timeout))});
  launch.args.insert(launch.args.end(), options_.extra_replica_args.begin(),
                     options_.extra_replica_args.end());
  launch.log_prefix = fmt::format("replica {}", replica.id);
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Launch(launch);
  replica.started = now;
  replica.term_sent = replica.kill_sent = false;
  replica.health_failures = 0;
  if (!process.ok()) {
    replica.state = ReplicaState::kFailed;
    replica.last_error = fmt::format("replica {} could not start: {}", replica.id,
                                     std::string(process.status().message()));
    group.last_error = replica.last_error;
    ++group.start_failures;
    replica.next_restart = now + Backoff(++replica.consecutive_failures);
    spdlog::error("supervisor: {}", replica.last_error);
    return;
  }
  replica.process = std::move(*process);
  replica.load = std::make_shared<ReplicaLoad>();
  auto client = ReplicaClient::Create(
      ReplicaClient::Options{.address = replica.socket_path, .connect_timeout = absl::Seconds(1)});
  replica.client = client.ok() ? std::shared_ptr<ReplicaClient>(std::move(*client)) : nullptr;
  replica.probe = std::make_shared<ProbeSlot>();
  replica.state = ReplicaState::kStarting;
  replica.next_health_check = now;
  replica.cpu_seconds = -1;  // a new process: its CPU time starts again
  replica.cpu_utilization = 0;
  spdlog::info("supervisor: replica {} started (pid {}, {} threads)", replica.id,
               replica.process->pid(), spec.threads);
}

void Supervisor::Reconciler::StartProbe(Replica& replica, absl::Time now) {
  if (replica.client == nullptr || replica.probe == nullptr || now < replica.next_health_check) {
    return;
  }
  replica.probe->Start(probes_, replica.client, options_.health_check_timeout,
                       /*with_status=*/true, now);
}

absl::Duration Supervisor::Reconciler::Backoff(int failures) const {
  absl::Duration delay = options_.initial_backoff;
  for (int i = 1; i < failures && delay < options_.max_backoff; ++i) delay *= 2;
  return std::min(delay, options_.max_backoff);
}

void Supervisor::Reconciler::Fail(Group& group, Replica& replica, std::string reason,
                                  absl::Time now) {
  const bool was_ready = replica.state == ReplicaState::kReady;
  if (replica.load != nullptr) replica.load->StartDrain();  // stale snapshots cannot lease it
  std::string last_line;
  if (replica.process != nullptr) {
    replica.process->Signal(SIGKILL);
    replica.process->WaitForExit(absl::Seconds(5));
    last_line = replica.process->LastOutputLine();
    replica.process.reset();
  }
  replica.last_error = last_line.empty() ? reason : fmt::format("{}: {}", reason, last_line);
  group.last_error = replica.last_error;
  if (!was_ready) ++group.start_failures;
  // A replica that served for a while starts its backoff over.
  if (was_ready && now - replica.ready_since >= options_.stable_after) {
    replica.consecutive_failures = 0;
  }
  ++replica.consecutive_failures;
  replica.state = ReplicaState::kFailed;
  replica.next_restart = now + Backoff(replica.consecutive_failures);
  if (was_ready) routing_dirty_ = true;
  spdlog::error("supervisor: {}; restart in {}", replica.last_error,
                absl::FormatDuration(replica.next_restart - now));
}

void Supervisor::Reconciler::StepStarting(Group& group, Replica& replica, absl::Time now) {
  if (!replica.process->running()) {
    Fail(group, replica,
         fmt::format("replica {} exited before becoming ready ({})", replica.id,
                     replica.process->exit_info()->ToString()),
         now);
    return;
  }
  if (std::optional<ProbeResult> probe = replica.probe->Take()) {
    if (probe->ready) {
      replica.state = ReplicaState::kReady;
      replica.ready_since = now;
      if (probe->status.has_value()) replica.counters = std::move(*probe->status);
      replica.weight_bytes = replica.counters.weight_bytes;
      replica.shared_weight_bytes = replica.counters.shared_weight_bytes;
      replica.next_health_check = now + options_.health_check_interval;
      routing_dirty_ = true;
      spdlog::info("supervisor: replica {} ready after {}", replica.id,
                   absl::FormatDuration(now - replica.started));
      return;
    }
    replica.next_health_check = now + options_.tick;  // loading: ask again soon
  }
  if (!replica.probe->running()) StartProbe(replica, now);
  if (now - replica.started > options_.readiness_timeout) {
    Fail(group, replica,
         fmt::format("replica {} not ready after {}", replica.id,
                     absl::FormatDuration(options_.readiness_timeout)),
         now);
  }
}

void Supervisor::Reconciler::StepReady(Group& group, Replica& replica, absl::Time now) {
  if (!replica.process->running()) {
    Fail(
        group, replica,
        fmt::format("replica {} exited ({})", replica.id, replica.process->exit_info()->ToString()),
        now);
    return;
  }
  if (std::optional<ProbeResult> probe = replica.probe->Take()) {
    if (probe->ready) {
      replica.health_failures = 0;
      if (probe->status.has_value()) replica.counters = std::move(*probe->status);
      SampleCpu(replica, ReplicaThreads(group.dm), now);
    } else {
      ++replica.health_failures;
      replica.probe_error = probe->error;
    }
  } else if (replica.probe->running() && now - replica.probe->running_since() > ProbeDeadline() &&
             now >= replica.next_health_check) {
    // Not even a timeout came back (every prober busy with hung replicas): that is a failure too.
    ++replica.health_failures;
    replica.probe_error = "health probe overdue";
    replica.next_health_check = now + options_.health_check_interval;
  }
  if (replica.health_failures >= options_.health_failures_to_kill) {
    Fail(group, replica,
         fmt::format("replica {} failed {} health checks in a row ({})", replica.id,
                     replica.health_failures, replica.probe_error),
         now);
    return;
  }
  if (!replica.probe->running() && now >= replica.next_health_check) {
    StartProbe(replica, now);
    replica.next_health_check = now + options_.health_check_interval;
  }
}

void Supervisor::Reconciler::SampleCpu(Replica& replica, int threads, absl::Time now) {
  const double seconds = ProcessCpuSeconds(replica.process != nullptr ? replica.process->pid() : 0);
  if (seconds < 0) return;
  if (replica.cpu_seconds >= 0 && now > replica.cpu_sampled && threads > 0) {
    const double wall = absl::ToDoubleSeconds(now - replica.cpu_sampled);
    replica.cpu_utilization =
        std::clamp((seconds - replica.cpu_seconds) / (wall * threads), 0.0, 1.0);
  }
  replica.cpu_seconds = seconds;
  replica.cpu_sampled = now;
}

void Supervisor::Reconciler::StartDrain(Replica& replica, absl::Time now) {
  if (replica.state == ReplicaState::kReady) routing_dirty_ = true;
  spdlog::info("supervisor: draining replica {} ({})", replica.id, ReplicaStateName(replica.state));
  replica.state = ReplicaState::kDraining;
  replica.drain_started = now;
  if (replica.load != nullptr) pending_drains_.push_back(replica.load);
}

void Supervisor::Reconciler::StartPendingDrains() {
  // Requests that took the previous snapshot may still lease these replicas until now; the drain
  // waits for those leases (StepDraining). A pick that loses the race to StartDrain finds a newer
  // table published and picks again from it (PredictionService).
  for (const auto& load : pending_drains_) load->StartDrain();
  pending_drains_.clear();
}

bool Supervisor::Reconciler::StepDraining(Replica& replica, absl::Time now) {
  if (replica.process == nullptr || !replica.process->running()) {
    if (replica.process != nullptr) {
      spdlog::info("supervisor: replica {} stopped ({})", replica.id,
                   replica.process->exit_info()->ToString());
    }
    std::error_code ec;
    std::filesystem::remove(replica.socket_path, ec);
    return true;
  }
  if (!replica.term_sent) {
    const bool idle = replica.load == nullptr || replica.load->in_flight() == 0;
    if (idle || now - replica.drain_started > options_.drain_timeout) {
      replica.process->Signal(SIGTERM);
      replica.term_sent = true;
      replica.term_sent_at = now;
    }
  } else if (!replica.kill_sent && now - replica.term_sent_at > options_.drain_timeout) {
    spdlog::warn("supervisor: replica {} still running {} after SIGTERM: SIGKILL", replica.id,
                 absl::FormatDuration(options_.drain_timeout));
    replica.process->Signal(SIGKILL);
    replica.kill_sent = true;
  }
  return false;
}

void Supervisor::Reconciler::StepGroup(Group& group, absl::Time now) {
  // Advance each replica.
  for (auto it = group.replicas.begin(); it != group.replicas.end();) {
    Replica& replica = **it;
    switch (replica.state) {
      case ReplicaState::kStarting:
        StepStarting(group, replica, now);
        break;
      case ReplicaState::kReady:
        StepReady(group, replica, now);
        break;
      case ReplicaState::kFailed:
        break;
      case ReplicaState::kDraining:
        if (StepDraining(replica, now)) {
          it = group.replicas.erase(it);
          continue;
        }
        break;
    }
    ++it;
  }
  // Scale down: drop failed slots first, then starting replicas, then the highest ready slots.
  auto active = [&group] {
    std::vector<Replica*> result;
    for (auto& r : group.replicas) {
      if (r->state != ReplicaState::kDraining) result.push_back(r.get());
    }
    return result;
  };
  std::vector<Replica*> running = active();
  int excess = static_cast<int>(running.size()) - group.desired;
  for (ReplicaState victim_state :
       {ReplicaState::kFailed, ReplicaState::kStarting, ReplicaState::kReady}) {
    for (auto it = running.rbegin(); it != running.rend() && excess > 0; ++it) {
      Replica* replica = *it;
      if (replica->state != victim_state) continue;
      --excess;
      if (victim_state == ReplicaState::kFailed) {
        std::erase_if(group.replicas, [replica](const auto& r) { return r.get() == replica; });
      } else {
        StartDrain(*replica, now);
      }
    }
  }
  if (group.desired == 0) return;
  if (!Prepare(group, now)) return;
  // Restart failed replicas whose backoff passed.
  for (auto& replica : group.replicas) {
    if (replica->state == ReplicaState::kFailed && now >= replica->next_restart) {
      ++replica->restarts;
      Launch(group, *replica, now);
    }
  }
  // Scale up: new slots, the lowest numbers no replica (draining included) uses.
  running = active();
  for (int missing = group.desired - static_cast<int>(running.size()); missing > 0; --missing) {
    std::set<int> used;
    for (auto& r : group.replicas) used.insert(r->slot);
    int slot = 0;
    while (used.count(slot) != 0) ++slot;
    auto replica = std::make_unique<Replica>();
    replica->slot = slot;
    Launch(group, *replica, now);
    group.replicas.push_back(std::move(replica));
  }
  std::sort(group.replicas.begin(), group.replicas.end(),
            [](const auto& a, const auto& b) { return a->slot < b->slot; });
}

void Supervisor::Reconciler::PublishRoutingTable() {
  routing_dirty_ = false;
  RoutingTableBuilder builder(++routing_generation_);
  for (const Endpoint& endpoint : endpoints_) {
    RoutedEndpoint routed;
    routed.id = endpoint.name;
    routed.name = endpoint.name;
    for (const auto& [id, percent] : endpoint.traffic_split) routed.traffic_split[id] = percent;
    routed.inference_timeout = endpoint.inference_timeout;
    if (endpoint.payload_logging.enabled) {
      routed.payload_sampling_rate = endpoint.payload_logging.sampling_rate;
      routed.payload_store_images = endpoint.payload_logging.store_images;
    }
    if (endpoint.rate_limit) {
      routed.rate_limit_rps = endpoint.rate_limit->requests_per_second;
      routed.rate_limit_burst = endpoint.rate_limit->burst;
    }
    for (const DeployedModel& dm : endpoint.deployed_models) {
      RoutedDeployedModel rdm;
      rdm.id = dm.id;
      rdm.model = dm.model;
      rdm.model_version_id = dm.model_version_id;
      rdm.model_display_name = dm.display_name;
      rdm.input_key = dm.input_key.empty() ? "string_input" : dm.input_key;
      rdm.batching = RoutedBatching{.max_batch_size = dm.batching.max_batch_size,
                                    .max_queue_delay_us = dm.batching.max_queue_delay_us,
                                    .max_queue_size = dm.batching.max_queue_size};
      auto group = groups_.find(dm.id);
      if (group != groups_.end()) {
        if (!group->second.model_display_name.empty()) {
          rdm.model_display_name = group->second.model_display_name;
        }
        for (const auto& replica : group->second.replicas) {
          if (replica->state != ReplicaState::kReady) continue;
          rdm.ready_replicas.push_back(RoutedReplica{.replica_id = replica->id,
                                                     .address = "unix:" + replica->socket_path,
                                                     .load = replica->load});
        }
      }
      routed.deployed_models.push_back(std::move(rdm));
    }
    builder.AddEndpoint(std::move(routed));
  }
  absl::StatusOr<std::shared_ptr<const RoutingTable>> table = builder.Build();
  if (!table.ok()) {
    spdlog::error("supervisor: cannot build the routing table: {}", table.status().ToString());
    return;
  }
  options_.routing->Publish(std::move(*table));
  spdlog::debug("supervisor: routing table {} published", routing_generation_);
}

std::map<std::string, DeployedModelStatus> Supervisor::Reconciler::Summary() const {
  std::map<std::string, DeployedModelStatus> summary;
  for (const auto& [id, group] : groups_) {
    DeployedModelStatus& status = summary[id];
    status.endpoint = group.endpoint;
    status.deployed_model_id = id;
    status.model = group.dm.model;
    status.model_version_id = group.dm.model_version_id;
    status.model_display_name = group.model_display_name;
    status.desired_replica_count = group.desired;
    status.start_failures = group.start_failures;
    status.last_error = group.last_error;
    for (const auto& replica : group.replicas) {
      ReplicaStatus r;
      r.id = replica->id;
      r.slot = replica->slot;
      r.state = replica->state;
      r.pid = replica->process != nullptr ? replica->process->pid() : 0;
      r.address = "unix:" + replica->socket_path;
      r.in_flight = replica->load != nullptr ? replica->load->in_flight() : 0;
      r.restarts = replica->restarts;
      r.cpu_threads = ReplicaThreads(group.dm);
      r.cpu_utilization = replica->cpu_utilization;
      r.weight_bytes = replica->weight_bytes;
      r.shared_weight_bytes = replica->shared_weight_bytes;
      r.precision = replica->counters.precision;
      r.isa = replica->counters.isa;
      r.gemm_kernel = replica->counters.gemm_kernel;
      r.attention_kernel = replica->counters.attention_kernel;
      r.precision_agreement = replica->counters.precision_agreement;
      r.requests = replica->counters.requests;
      r.failed_requests = replica->counters.failed_requests;
      r.expired = replica->counters.expired;
      r.cancelled = replica->counters.cancelled;
      r.rejected = replica->counters.rejected;
      r.queued_bytes = replica->counters.queued_bytes;
      r.batches = replica->counters.batches;
      r.queue_depth = replica->counters.queue_depth;
      r.batch_size_histogram = replica->counters.batch_size_histogram;
      r.started = replica->started;
      r.ready_since = replica->ready_since;
      r.last_error = replica->last_error;
      r.next_restart = replica->next_restart;
      if (replica->state == ReplicaState::kReady) ++status.ready_replica_count;
      status.replicas.push_back(std::move(r));
    }
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Supervisor>> Supervisor::Create(const Options& options) {
  if (options.endpoints == nullptr || options.models == nullptr || options.routing == nullptr) {
    return absl::InvalidArgumentError("Supervisor: endpoints, models and routing are required");
  }
  if (options.self_binary.empty()) {
    return absl::InvalidArgumentError("Supervisor: self_binary is required");
  }
  std::error_code ec;
  // Packed weights of a previous run: replicas repack (and rewrite) what they need.
  std::filesystem::remove_all(options.data_dir / "packed", ec);
  // What the replicas of a killed server left (their sockets), before this run makes its own.
  RemoveReplicaLeftovers(options.data_dir / "run", ReplicaSocketFallbackDir());
  RETURN_IF_ERROR(EnsurePrivateDirectory(options.data_dir / "run"));
  return std::unique_ptr<Supervisor>(new Supervisor(options));
}

Supervisor::Supervisor(const Options& options)
    : options_(options),
      wake_(std::make_shared<Wake>()),
      reconciler_(std::make_unique<Reconciler>(options)) {}

Supervisor::~Supervisor() { Stop(); }

absl::Status Supervisor::Start() {
  if (started_) return absl::FailedPreconditionError("Supervisor already started");
  started_ = true;
  std::weak_ptr<Wake> weak = wake_;
  options_.endpoints->AddListener([weak] {
    if (std::shared_ptr<Wake> wake = weak.lock()) {
      absl::MutexLock lock(&wake->mu);
      wake->dirty = true;
    }
  });
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Supervisor::Stop() {
  {
    absl::MutexLock lock(&wake_->mu);
    wake_->stop = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

void Supervisor::Run() {
  bool stopping = false;
  while (true) {
    bool dirty = false;
    {
      absl::MutexLock lock(&wake_->mu);
      auto woken = [this] { return wake_->dirty || wake_->stop; };
      wake_->mu.AwaitWithTimeout(absl::Condition(&woken), options_.tick);
      dirty = wake_->dirty;
      wake_->dirty = false;
      if (wake_->stop && !stopping) {
        stopping = true;
        dirty = true;
      }
    }
    std::optional<std::vector<Endpoint>> endpoints;
    uint64_t generation = 0;
    if (dirty) {
      generation = options_.endpoints->generation();
      absl::StatusOr<std::vector<Endpoint>> listed = options_.endpoints->ListAllEndpoints();
      if (listed.ok()) {
        endpoints = std::move(*listed);
      } else {
        spdlog::error("supervisor: cannot list endpoints: {}", listed.status().ToString());
        absl::MutexLock lock(&wake_->mu);
        wake_->dirty = true;  // try again next tick
      }
    }
    std::map<std::string, DeployedModelStatus> summary;
    try {
      summary = reconciler_->Step(endpoints ? &*endpoints : nullptr, stopping);
    } catch (...) {
      // One bad deployment or replica must not end supervision of all the others: log, and
      // reconcile everything again next tick. At shutdown, give up rather than loop.
      spdlog::error("supervisor: reconciling threw {}; retrying next tick",
                    CurrentExceptionMessage());
      if (stopping) break;
      absl::MutexLock lock(&wake_->mu);
      wake_->dirty = true;
      continue;
    }
    if (stopping && reconciler_->Idle()) {
      PublishSummary(std::move(summary), generation);
      break;
    }
    PublishSummary(std::move(summary), endpoints ? generation : 0);
  }
  options_.routing->Publish(nullptr);
  spdlog::info("supervisor: stopped");
}

void Supervisor::PublishSummary(std::map<std::string, DeployedModelStatus> summary,
                                uint64_t generation) {
  absl::MutexLock lock(&mu_);
  summary_ = std::move(summary);
  if (generation > 0 || !any_observed_) {
    observed_generation_ = std::max(observed_generation_, generation);
    any_observed_ = any_observed_ || generation > 0;
  }
}

std::vector<DeployedModelStatus> Supervisor::Status() const {
  std::vector<DeployedModelStatus> result;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, status] : summary_) result.push_back(status);
  }
  for (DeployedModelStatus& status : result) {
    for (ReplicaStatus& replica : status.replicas) ReadMemory(replica);
  }
  return result;
}

std::optional<DeployedModelStatus> Supervisor::StatusOf(std::string_view deployed_model_id) const {
  std::optional<DeployedModelStatus> result;
  {
    absl::MutexLock lock(&mu_);
    auto it = summary_.find(std::string(deployed_model_id));
    if (it == summary_.end()) return std::nullopt;
    result = it->second;
  }
  for (ReplicaStatus& replica : result->replicas) ReadMemory(replica);
  return result;
}

absl::Status Supervisor::WaitUntilReady(const registry::Endpoint& endpoint,
                                        const registry::DeployedModel& deployed_model,
                                        const registry::CancellationToken& cancel) {
  const uint64_t generation = options_.endpoints->generation();
  const int needed = std::max(1, deployed_model.MinReplicaCount());
  const std::string& id = deployed_model.id;
  while (true) {
    RETURN_IF_ERROR(cancel.Check());
    absl::MutexLock lock(&mu_);
    auto decided = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (stopped_) return true;
      if (observed_generation_ < generation) return false;
      auto it = summary_.find(id);
      return it == summary_.end() || it->second.ready_replica_count >= needed ||
             it->second.start_failures > 0;
    };
    mu_.AwaitWithTimeout(absl::Condition(&decided), absl::Milliseconds(100));
    if (stopped_) return absl::UnavailableError("the server is shutting down");
    if (observed_generation_ < generation) continue;
    auto it = summary_.find(id);
    if (it == summary_.end()) {
      return absl::AbortedError(
          fmt::format("deployed model {} is no longer on endpoint {}", id, endpoint.name));
    }
    if (it->second.ready_replica_count >= needed) return absl::OkStatus();
    if (it->second.start_failures > 0) {
      return absl::FailedPreconditionError(it->second.last_error);
    }
  }
}

void Supervisor::WaitUntilRouted(const registry::CancellationToken& cancel,
                                 absl::Duration timeout) {
  // The routing table is published in the same reconcile step that observes the endpoints
  // (Reconciler::Step, then PublishSummary): observing this generation means routing by it.
  const uint64_t generation = options_.endpoints->generation();
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  auto observed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopped_ || observed_generation_ >= generation;
  };
  // Wakes every 100 ms to see the cancellation (it has no condition variable of its own).
  while (!observed() && cancel.Check().ok() && absl::Now() < deadline) {
    mu_.AwaitWithTimeout(absl::Condition(&observed), absl::Milliseconds(100));
  }
}

absl::Status Supervisor::WaitUntilStopped(const registry::Endpoint& /*endpoint*/,
                                          const registry::DeployedModel& deployed_model,
                                          const registry::CancellationToken& cancel) {
  const uint64_t generation = options_.endpoints->generation();
  const std::string& id = deployed_model.id;
  while (true) {
    RETURN_IF_ERROR(cancel.Check());
    absl::MutexLock lock(&mu_);
    auto stopped = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (stopped_) return true;
      if (observed_generation_ < generation) return false;
      auto it = summary_.find(id);
      return it == summary_.end() ||
             (it->second.desired_replica_count == 0 && it->second.replicas.empty());
    };
    mu_.AwaitWithTimeout(absl::Condition(&stopped), absl::Milliseconds(100));
    if (stopped()) return absl::OkStatus();
  }
}

}  // namespace tessera::control
