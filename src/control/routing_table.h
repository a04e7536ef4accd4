// The routing table: where a predict request goes.
//
// A RoutingTable is an immutable snapshot of endpoints -> deployed models -> ready replicas, built
// by RoutingTableBuilder whenever the control plane changes something (deploy, undeploy, traffic
// split, a replica becoming ready or dying) and published through RoutingTableHolder. Request
// threads take a snapshot (a shared_ptr copy under a reader lock) and pick from it without locks; a
// pick returns a Route that keeps its snapshot alive and holds a ReplicaLease on the chosen
// replica, so a table swap never invalidates a request in progress and drain can wait for it.
//
// Picking (PickForEndpoint): the deployed model by the endpoint's traffic split, or the pinned
// deployed-model id (debug header/parameter, works even at 0%); then, among that deployed model's
// ready replicas that are not draining and not excluded, the one with the fewest in-flight requests
// (ties broken by the random source). A request that failed on a replica (it died) is retried once
// with Route::RetryOptions(): same deployed model, another replica.
//
// TF Serving / KServe routing (PickForModel) goes by (model id, model version id) through a
// secondary index, across every endpoint that has that version deployed.
//
// Thread-safety: a RoutingTable is immutable and safe to share; RandomSource must be thread-safe
// when shared between request threads. RoutingTableHolder is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "control/random_source.h"
#include "control/replica_selection.h"
#include "control/traffic_split.h"

namespace tessera {

// One ready replica as the router sees it.
struct RoutedReplica {
  std::string replica_id;
  // Where to send requests: "unix:/path/to/replica.sock" or "http://host:port".
  std::string address;
  // The replica's in-flight counter, owned by the supervisor and shared by every snapshot.
  std::shared_ptr<ReplicaLoad> load;
};

// Batching settings of a deployed model (the replica applies them; 0 means the runtime default).
struct RoutedBatching {
  int max_batch_size = 0;
  int64_t max_queue_delay_us = 0;
  int max_queue_size = 0;
};

struct RoutedDeployedModel {
  std::string id;                // deployed model id, as in Vertex ("1234")
  std::string model;             // resource name: "projects/p/locations/l/models/123"
  std::string model_version_id;  // "1", "2", ...
  std::string model_display_name;
  std::string input_key = "string_input";  // instance key holding the image: {"<key>": {"b64":..}}
  RoutedBatching batching;
  std::vector<RoutedReplica> ready_replicas;

  // The model id: the segment after "models/" in `model` (the whole string if it has none).
  std::string ModelId() const;
};

struct RoutedEndpoint {
  std::string id;    // endpoint id: the last segment of its resource name
  std::string name;  // resource name "projects/p/locations/l/endpoints/{id}" (informational)
  std::vector<RoutedDeployedModel> deployed_models;
  TrafficSplit traffic_split;  // validated by ValidateTrafficSplit at Build
  // clientConnectionConfig.inferenceTimeout; zero: none (the server's predict timeout applies).
  absl::Duration inference_timeout = absl::ZeroDuration();
  // predictRequestResponseLoggingConfig (serving/predict/payload_log.h): the share of
  // Vertex predicts whose request and response are logged (0: none), and whether images are
  // kept whole (else replaced by their sha256).
  double payload_sampling_rate = 0;
  bool payload_store_images = false;
  // Tessera's endpoint rate limit: predicts per second and burst, for every caller together.
  // rate_limit_rps 0: no limit.
  double rate_limit_rps = 0;
  int64_t rate_limit_burst = 0;
};

struct PickOptions {
  // Non-empty: use this deployed model, ignoring the traffic split.
  std::string pinned_deployed_model_id;
  // Non-empty: never pick this replica (the one a failed attempt used).
  std::string exclude_replica_id;
  // PickForModel: when set, only deployed models on endpoints it accepts (the caller's key may
  // reach only some endpoints). Not copied into RetryOptions: a retry stays on the same model.
  std::function<bool(const RoutedEndpoint&)> allow_endpoint;
};

class RoutingTable;

// The result of a pick. Holds the snapshot it came from (references stay valid) and an in-flight
// lease on the replica, released when the Route is destroyed (or Release() is called): keep it for
// the whole request to the replica. Move-only.
class Route {
 public:
  const RoutedEndpoint& endpoint() const { return *endpoint_; }
  const RoutedDeployedModel& deployed_model() const { return *deployed_model_; }
  const RoutedReplica& replica() const { return *replica_; }
  // Options for one retry after this route's replica failed: same deployed model, another replica.
  PickOptions RetryOptions() const;
  // Ends the lease early (the reply has been received). The references stay valid.
  void Release() { lease_.Reset(); }

 private:
  friend class RoutingTable;
  Route(std::shared_ptr<const RoutingTable> table, const RoutedEndpoint* endpoint,
        const RoutedDeployedModel* deployed_model, const RoutedReplica* replica, ReplicaLease lease)
      : table_(std::move(table)),
        endpoint_(endpoint),
        deployed_model_(deployed_model),
        replica_(replica),
        lease_(std::move(lease)) {}

  std::shared_ptr<const RoutingTable> table_;
  const RoutedEndpoint* endpoint_;
  const RoutedDeployedModel* deployed_model_;
  const RoutedReplica* replica_;
  ReplicaLease lease_;
};

// A deployed model found through the (model id, version) index.
struct DeployedModelRef {
  const RoutedEndpoint* endpoint;
  const RoutedDeployedModel* deployed_model;
};

class RoutingTable : public std::enable_shared_from_this<RoutingTable> {
 public:
  // An empty table (what the holder serves before the first publish).
  static std::shared_ptr<const RoutingTable> Empty();

  // Monotonic number given by the builder, for logs ("routing table 12 published").
  uint64_t generation() const { return generation_; }
  const std::vector<RoutedEndpoint>& endpoints() const { return endpoints_; }

  // nullptr when absent.
  const RoutedEndpoint* FindEndpoint(std::string_view endpoint_id) const;
  // Every deployed model of that model version, on any endpoint (empty span when none).
  std::span<const DeployedModelRef> FindByModelVersion(std::string_view model_id,
                                                       std::string_view model_version_id) const;
  // Every deployed model of that model, any version, on any endpoint.
  std::vector<DeployedModelRef> FindByModel(std::string_view model_id) const;

  // Errors: NOT_FOUND (no such endpoint), INVALID_ARGUMENT (pinned id not deployed there),
  // FAILED_PRECONDITION (no deployed model, or the split sends no traffic), UNAVAILABLE (the chosen
  // deployed model has no ready replica left to pick). Draws from `random` at most twice.
  absl::StatusOr<Route> PickForEndpoint(std::string_view endpoint_id, const PickOptions& options,
                                        RandomSource& random) const;
  // Least-loaded ready replica among every deployed model of (model id, version);
  // options.pinned_deployed_model_id narrows to one, options.allow_endpoint to some endpoints.
  // NOT_FOUND when that version is deployed nowhere (that it may use), UNAVAILABLE when none of
  // its replicas is ready.
  absl::StatusOr<Route> PickForModel(std::string_view model_id, std::string_view model_version_id,
                                     const PickOptions& options, RandomSource& random) const;

 private:
  friend class RoutingTableBuilder;
  struct SplitEntry {
    int percent;
    int deployed_model_index;
  };
  RoutingTable() = default;
  // Leases the least-loaded eligible replica among `candidates`; UNAVAILABLE with `what` in the
  // message when there is none.
  absl::StatusOr<Route> PickReplica(std::span<const DeployedModelRef> candidates,
                                    const PickOptions& options, RandomSource& random,
                                    std::string_view what) const;

  uint64_t generation_ = 0;
  std::vector<RoutedEndpoint> endpoints_;
  std::map<std::string, size_t, std::less<>> endpoint_index_;
  // Per endpoint (same order as endpoints_): the split in deployed-model-id order, as indices.
  std::vector<std::vector<SplitEntry>> splits_;
  // model id -> model version id -> deployed models.
  std::map<std::string, std::map<std::string, std::vector<DeployedModelRef>, std::less<>>,
           std::less<>>
      by_model_;
};

// Builds a validated RoutingTable. Build errors are INVALID_ARGUMENT naming the bad entry: empty or
// duplicate endpoint / deployed model / replica ids, an invalid traffic split, a replica without an
// address or load counter, an empty model or input key.
class RoutingTableBuilder {
 public:
  explicit RoutingTableBuilder(uint64_t generation = 0) : generation_(generation) {}
  RoutingTableBuilder& AddEndpoint(RoutedEndpoint endpoint);
  absl::StatusOr<std::shared_ptr<const RoutingTable>> Build();

 private:
  uint64_t generation_;
  std::vector<RoutedEndpoint> endpoints_;
};

// Publishes snapshots. Thread-safe. Snapshot() is the request hot path: a reader lock held only to
// copy the shared_ptr (one refcount increment); Publish() swaps under the writer lock and destroys
// the old table (if it was the last reference) after unlocking.
// Why not std::atomic<std::shared_ptr>: libstdc++ 12 implements it with a spin-lock bit, and
// measured on this 2-core host (0.5 s runs, readers in a tight loop, noisy): reads cost about the
// same (40-330 ns vs 50-390 ns per read under a writer), but readers starve the writer: mean
// publish 2-20 ms, worst 150 ms, against 0.05-2.5 ms mean, worst 27 ms with absl::Mutex, which
// gives a waiting writer priority over new readers.
class RoutingTableHolder {
 public:
  RoutingTableHolder() : table_(RoutingTable::Empty()) {}
  std::shared_ptr<const RoutingTable> Snapshot() const {
    absl::ReaderMutexLock lock(&mu_);
    return table_;
  }
  // Replaces the table; requests already holding the old snapshot finish on it. null -> empty.
  void Publish(std::shared_ptr<const RoutingTable> table);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const RoutingTable> table_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera
