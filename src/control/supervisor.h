// Supervisor: the reconciler of the data plane. It makes the running replica processes match the
// desired state the EndpointService records, and it is the real DeploymentWaiter.
//
// Desired state: for every deployed model on every endpoint, `desired_replica_count` replicas
// (at least minReplicaCount, at least 1) while DEPLOYING or DEPLOYED; none while UNDEPLOYING or
// once the deployed model is gone. Each replica is a child process
//   <self_binary> replica --model <ModelService::ArtifactDir> --socket <run_dir>/<dmid>-<n>.sock
//       <ReplicaSpecFlags(ReplicaSpecFor(deployed model, machine type))>
// (common/replica_spec.h: the spec deploy validated, which the replica validates again). The
// socket folder is private to the server's user (control/socket_dir.h).
//
// Replica lifecycle (ReplicaState), driven by one reconcile thread:
//   kStarting -> kReady       /health answered 200 (model loaded and warmed up); the replica
//                             enters the routing table.
//   kStarting -> kFailed      exited before ready, or not ready within readiness_timeout (then
//                             killed); the last output line becomes the deployed model's error
//                             (and fails a waiting deploy operation).
//   kReady    -> kFailed      exited (crash, kill -9) or failed health_failures_to_kill health
//                             checks in a row (then killed); out of the routing table at once.
//   kFailed                   restarted (same slot, same socket) after an exponential backoff of
//                             initial_backoff * 2^(failures-1), at most max_backoff; the count
//                             resets when a replica had stayed ready for stable_after.
//   kStarting/kReady -> kDraining  scale-down, undeploy, Stop(): out of the routing table, no new
//                             lease (ReplicaLoad::StartDrain), SIGTERM once the router's leases
//                             are gone (or drain_timeout passed), SIGKILL drain_timeout after that.
//   kDraining -> (removed)    the process exited.
//
// The routing table (RoutingTableHolder) is rebuilt and published whenever the endpoints change
// or a replica enters/leaves the ready set; every endpoint appears, with all its deployed models
// (whatever their state) and their ready replicas.
//
// Health and status probes never run on the reconcile thread: it starts them on a small probe
// pool (control/replica_prober.h) and collects the answers on later steps, so a hung replica
// (SIGSTOP) costs it nothing; its probes time out (health_check_timeout), it fails
// health_failures_to_kill of them, and it is killed and replaced while every other replica and
// the routing table carry on.
//
// Undeploy and scale-down never fail a request: the replica leaves the published routing table
// first, and only then refuses new leases (ReplicaLoad::StartDrain); a request that read the
// older table and finds the replica draining picks again from the newer one (PredictionService).
//
// Threads: Start() starts the reconcile thread (replicas are forked from it: PR_SET_PDEATHSIG is
// tied to it). The EndpointService listener only sets a flag. Status(), WaitUntilReady and
// WaitUntilStopped may be called from any thread: they read a summary the reconcile thread
// publishes after every step. Stop() (idempotent; the destructor calls it) drains and stops every
// replica and publishes an empty routing table.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "control/deployment_waiter.h"
#include "control/endpoint_service.h"
#include "control/replica_client.h"
#include "control/routing_table.h"
#include "registry/model_service.h"

namespace tessera::control {

enum class ReplicaState {
  kStarting,  // process running, /health not yet 200
  kReady,     // serving; in the routing table
  kFailed,    // exited or killed; waiting for its restart (backoff)
  kDraining,  // being stopped: out of the routing table, then SIGTERM, then SIGKILL
};
std::string_view ReplicaStateName(ReplicaState state);  // "STARTING", "READY", ...

struct ReplicaStatus {
  std::string id;  // "<deployed model id>-<slot>"
  int slot = 0;
  ReplicaState state = ReplicaState::kStarting;
  pid_t pid = 0;          // 0 when no process runs (kFailed)
  std::string address;    // "unix:/.../run/<id>.sock"
  int64_t in_flight = 0;  // router leases held now
  int restarts = 0;       // times this slot was started again after a failure
  absl::Time started = absl::InfinitePast();
  absl::Time ready_since = absl::InfinitePast();
  std::string last_error;           // why it last failed, "" if never
  int cpu_threads = 0;              // the vCPUs of its machine type (its engine threads)
  double cpu_seconds = -1;          // CPU time it used, from /proc/<pid>/stat (< 0: unknown)
  // Its CPU time over wall time x cpu_threads between its last two health checks (about 1 s):
  // the share of its cores it kept busy, 0..1 ("duty cycle").
  double cpu_utilization = 0;
  int64_t rss_bytes = 0;            // from /proc/<pid>/status (0 when unknown)
  int64_t pss_bytes = 0;            // proportional set size: shared pages split between their users
  int64_t weight_bytes = 0;         // the replica's prepacked weights (its /status, once ready)
  int64_t shared_weight_bytes = 0;  // of those, in the packed file every replica maps
  std::string precision;            // the engine's, as the replica reports it once ready
  std::string isa;                  // the instruction set its kernels dispatch to
  std::string gemm_kernel;          // oneDNN's kernel for its largest GEMM at the max batch
  std::string attention_kernel;     // the engine's attention kernel
  PrecisionAgreementInfo precision_agreement;  // bf16 / int8: its check against fp32
  // The replica's own counters (its /status, refreshed about once a second while READY).
  int64_t requests = 0;                            // predict requests it received
  int64_t failed_requests = 0;                     // ...answered with an error
  int64_t expired = 0;                             // dropped before compute: deadline passed
  int64_t cancelled = 0;                           // dropped before compute: client gone
  int64_t rejected = 0;                            // refused: its queue was full (429)
  int64_t queued_bytes = 0;                        // bytes of images it holds for predicts
  int64_t batches = 0;                             // forward passes run
  int64_t queue_depth = 0;                         // images waiting for a batch
  std::map<int, int64_t> batch_size_histogram;     // batch size -> forward passes of that size
  absl::Time next_restart = absl::InfinitePast();  // kFailed only
};

struct DeployedModelStatus {
  std::string endpoint;  // resource name
  std::string deployed_model_id;
  std::string model;  // projects/../models/{id}
  std::string model_version_id;
  std::string model_display_name;
  int desired_replica_count = 0;  // 0 while undeploying
  int ready_replica_count = 0;
  // Replicas that exited (or were killed) before ever becoming ready since this deployed model
  // was first seen: a deploy fails on the first one.
  int start_failures = 0;
  std::string last_error;  // the latest failure of any replica (or of preparing the model)
  std::vector<ReplicaStatus> replicas;  // by slot
};

class Supervisor final : public DeploymentWaiter {
 public:
  struct Options {
    EndpointService* endpoints = nullptr;      // required, not owned
    registry::ModelService* models = nullptr;  // required, not owned
    RoutingTableHolder* routing = nullptr;     // required, not owned: where snapshots are published
    std::string self_binary;         // the tessera binary (replicas run `<it> replica ...`)
    std::filesystem::path data_dir;  // sockets go to <data_dir>/run
    // Extra arguments for every replica (tests: e.g. {"--log-level", "debug"}).
    std::vector<std::string> extra_replica_args;
    absl::Duration tick = absl::Milliseconds(50);             // reconcile period without changes
    absl::Duration health_check_interval = absl::Seconds(1);  // of ready replicas
    absl::Duration health_check_timeout = absl::Seconds(2);
    int health_failures_to_kill = 3;
    absl::Duration readiness_timeout = absl::Minutes(5);
    absl::Duration drain_timeout = absl::Seconds(30);
    absl::Duration initial_backoff = absl::Seconds(1);
    absl::Duration max_backoff = absl::Seconds(30);
    absl::Duration stable_after = absl::Seconds(30);
  };

  static absl::StatusOr<std::unique_ptr<Supervisor>> Create(const Options& options);
  ~Supervisor() override;

  // Registers the EndpointService listener and starts the reconcile thread. Call once.
  absl::Status Start();
  // Drains and stops every replica (each gets up to drain_timeout), then returns. Idempotent.
  void Stop();

  // Snapshot of every deployed model the supervisor runs replicas for, by deployed model id.
  std::vector<DeployedModelStatus> Status() const;
  std::optional<DeployedModelStatus> StatusOf(std::string_view deployed_model_id) const;

  // DeploymentWaiter. WaitUntilReady: OK once max(1, minReplicaCount) replicas are ready;
  // FAILED_PRECONDITION "replica <id> exited before becoming ready (exit code 1): <last line>"
  // on the first start failure; CANCELLED on cancel; UNAVAILABLE when the supervisor stops.
  absl::Status WaitUntilReady(const registry::Endpoint& endpoint,
                              const registry::DeployedModel& deployed_model,
                              const registry::CancellationToken& cancel) override;
  // OK once no process of the deployed model runs (drained and exited).
  void WaitUntilRouted(const registry::CancellationToken& cancel, absl::Duration timeout) override;
  absl::Status WaitUntilStopped(const registry::Endpoint& endpoint,
                                const registry::DeployedModel& deployed_model,
                                const registry::CancellationToken& cancel) override;

 private:
  class Reconciler;  // the reconcile thread's state (supervisor.cc)
  struct Wake;       // shared with the EndpointService listener

  explicit Supervisor(const Options& options);
  void Run();
  // Called by the reconcile thread after every step.
  void PublishSummary(std::map<std::string, DeployedModelStatus> summary, uint64_t generation);

  const Options options_;
  std::shared_ptr<Wake> wake_;
  std::unique_ptr<Reconciler> reconciler_;
  std::thread thread_;
  bool started_ = false;

  mutable absl::Mutex mu_;
  std::map<std::string, DeployedModelStatus> summary_ ABSL_GUARDED_BY(mu_);
  // The EndpointService generation the published summary reflects.
  uint64_t observed_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool any_observed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tessera::control
