// PredictionService: the one prediction path every protocol frontend calls (Vertex :predict and
// :rawPredict, TF Serving REST, KServe v2). It picks a deployed model and a replica from the
// current routing snapshot, forwards the body to the replica's internal API (ReplicaClient), and
// retries once on another replica when the first one could not answer (it died mid-request, it is
// draining, or its queue is full): predict is idempotent. It never waits without a deadline.
//
// Errors (absl::Status, mapped to HTTP by the frontends with common/http/google_error.h):
//   NOT_FOUND            no such endpoint (or model version deployed nowhere)
//   FAILED_PRECONDITION  the endpoint has no deployed model / its split sends no traffic
//   INVALID_ARGUMENT     a pinned deployed model that is not on the endpoint; the replica's own
//                        400s (bad instance, wrong key, ...) with its message verbatim
//   UNAVAILABLE          no ready replica, or both attempts failed to reach a replica
//   RESOURCE_EXHAUSTED   the replica's queue stayed full on both attempts, or the endpoint's rate
//                        limit (auth/rate_limiter.h) refused the request (Retry-After, ErrorInfo)
//   DEADLINE_EXCEEDED    the replica did not answer within the request's deadline: the smallest
//                        of request_timeout, the endpoint's inference timeout and the client's
//                        deadline (predict_context.h); the replica gets the time left as its
//                        X-Server-Timeout and drops the request before compute once it passed
//   CANCELLED            the client went away (predict_context.h): the replica call is abandoned
//
// Thread-safety: every method may be called concurrently from any thread; calls block the caller
// up to the request's deadline (run them on a blocking executor, never on an HTTP io thread).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/rate_limiter.h"
#include "common/tracing/span_exporter.h"
#include "control/endpoint_service.h"
#include "control/random_source.h"
#include "control/replica_client.h"
#include "control/routing_table.h"

namespace tessera::serving {

// Which deployed model answered, for the response ("deployedModelId", "model", ...).
struct ServedBy {
  std::string endpoint;  // resource name
  std::string deployed_model_id;
  std::string model;  // projects/p/locations/l/models/{id}
  std::string model_display_name;
  std::string model_version_id;
  std::string replica_id;
  int attempts = 1;  // 2 when retried on another replica
};

struct ReplicaReply {
  std::string body;  // the replica's 200 body: {"predictions": [...]}
  ServedBy served_by;
};

// What to call on the replica.
struct ReplicaCall {
  enum class Kind {
    kPredictJson,   // POST /predict with `body` (Vertex-shaped JSON)
    kPredictBytes,  // POST /predict_bytes?top_k=.. with `body` = encoded image bytes
  };
  Kind kind = Kind::kPredictJson;
  std::string body;
  int top_k = 1;  // kPredictBytes only
};

class PredictionService {
 public:
  struct Options {
    RoutingTableHolder* routing = nullptr;          // required, not owned
    control::EndpointService* endpoints = nullptr;  // optional: tells "no such endpoint" from
                                                    // "not yet routed"
    RandomSource* random = nullptr;                 // required, thread-safe, not owned
    absl::Duration request_timeout = absl::Seconds(60);
    // Buckets of the endpoints' rate limits (RoutedEndpoint::rate_limit_rps); null: not enforced.
    auth::RateLimiter* endpoint_limits = nullptr;
    // Where the replica calls' spans go (predict_tracing.h); null: not exported.
    tracing::SpanExporter* spans = nullptr;
  };

  static absl::StatusOr<std::unique_ptr<PredictionService>> Create(const Options& options);

  // Vertex: endpoint resource name "projects/p/locations/l/endpoints/e"; `pinned_deployed_model_id`
  // "" follows the traffic split.
  absl::StatusOr<ReplicaReply> PredictEndpoint(const std::string& endpoint,
                                               const std::string& pinned_deployed_model_id,
                                               const ReplicaCall& call);
  // TF Serving / KServe: least-loaded replica among every deployed model of that model version
  // on an endpoint the caller reaches (CurrentPredictContext().principal; every one when null).
  absl::StatusOr<ReplicaReply> PredictModelVersion(const std::string& model_id,
                                                   const std::string& model_version_id,
                                                   const ReplicaCall& call);

  // The current routing snapshot (for metadata and readiness routes).
  std::shared_ptr<const RoutingTable> Snapshot() const { return options_.routing->Snapshot(); }

 private:
  explicit PredictionService(const Options& options) : options_(options) {}
  // Picks (endpoint != "" ? by endpoint : by model version) and calls, with one retry.
  absl::StatusOr<ReplicaReply> Run(const std::string& endpoint, const std::string& model_id,
                                   const std::string& model_version_id, PickOptions pick,
                                   const ReplicaCall& call);
  // From the current snapshot, and again from a newer one when that failed (see the .cc).
  absl::StatusOr<Route> Pick(const std::string& endpoint, const std::string& model_id,
                             const std::string& model_version_id, const PickOptions& pick);
  absl::StatusOr<Route> PickFrom(const RoutingTable& table, const std::string& endpoint,
                                 const std::string& model_id, const std::string& model_version_id,
                                 const PickOptions& pick);
  absl::StatusOr<std::string> Call(const Route& route, const ReplicaCall& call,
                                   absl::Time deadline);
  absl::StatusOr<std::shared_ptr<control::ReplicaClient>> ClientFor(const std::string& address);

  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<control::ReplicaClient>> clients_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::serving
