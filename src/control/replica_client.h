// The server's client of one replica process (`tessera replica`, runtime/replica_server.h): its
// internal HTTP API over a unix socket ("unix:/path") or TCP ("http://host:port"), on a pool of
// keep-alive connections (common/http/http_client.h).
//
// Used by the supervisor (readiness polls, status) and the predict path (forwarding bodies).
// Thread-safe: every method may be called concurrently from any thread; calls run on the calling
// thread and never block past their timeout (plus a few milliseconds).
//
// Errors: UNAVAILABLE when the replica cannot be reached or dies mid-request (a predict is safe to
// retry on another replica: it is idempotent), DEADLINE_EXCEEDED on timeout; an HTTP error from
// the replica comes back as the absl::Status its Google error body names, with the replica's
// message verbatim (e.g. INVALID_ARGUMENT "instance 2: ...", RESOURCE_EXHAUSTED when its queue is
// full, with its Retry-After hint as in common/http/google_error.h, UNAVAILABLE while it drains,
// DEADLINE_EXCEEDED when the deadline passed before compute); CANCELLED for a cancelled call.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/http_client.h"

namespace tessera::control {

// GET /health.
struct ReplicaHealth {
  std::string state;   // "LOADING", "READY", "DRAINING", "STOPPED"
  bool ready = false;  // HTTP 200 and state READY
};

// GET /status (the fields the control plane uses; see replica_server.h for the body).
// A replica's check of its reduced precision against fp32 (engine/precision_agreement.h).
struct PrecisionAgreementInfo {
  int64_t images = 0;
  int64_t agreeing = 0;
  double max_confidence_difference = 0;
  std::string source;  // which images
};

struct ReplicaStatusInfo {
  std::string state;
  int64_t in_flight = 0;    // predict requests admitted and not yet answered
  int64_t queue_depth = 0;  // instances waiting for a batch
  int64_t requests = 0;     // predict requests received
  int64_t failed_requests = 0;
  int64_t expired = 0;       // dropped before compute: deadline passed
  int64_t cancelled = 0;     // dropped before compute: client gone
  int64_t rejected = 0;      // refused: queue full (429)
  int64_t queued_bytes = 0;  // bytes of images admitted, not yet answered
  int64_t batches = 0;
  std::map<int, int64_t> batch_size_histogram;  // batch size -> batches
  int64_t rss_bytes = 0;
  int64_t pid = 0;
  // The model, once loaded (empty architecture while LOADING).
  std::string architecture;
  int64_t weight_bytes = 0;         // prepacked weights held
  int64_t shared_weight_bytes = 0;  // of those, mapped from the file shared with other replicas
  std::string precision;            // the engine's: "fp32", "bf16", "int8"
  std::string isa;                  // the instruction set its kernels dispatch to
  std::string gemm_kernel;          // oneDNN's kernel for the largest GEMM at the max batch
  std::string attention_kernel;     // the engine's attention kernel (fused or separate)
  // A reduced precision's top-1 agreement with fp32 at warm-up (images 0: none measured).
  PrecisionAgreementInfo precision_agreement;
  int num_labels = 0;
  int image_height = 0;
  int image_width = 0;
};

// Where a predict's time went inside the replica (its Server-Timing header): waiting in the batch
// queue, decoding and resizing, the forward pass of its batch. `reported` is false when the
// replica sent no (valid) timings.
struct ReplicaTimings {
  bool reported = false;
  absl::Duration queue;
  absl::Duration preprocess;
  absl::Duration inference;
};

class ReplicaClient {
 public:
  struct Options {
    // The replica's unix socket path, or a full base URL ("http://10.0.0.5:8500" or "unix:/p").
    std::string address;
    absl::Duration connect_timeout = absl::Seconds(2);
  };

  // INVALID_ARGUMENT for an empty or malformed address. Connects lazily.
  static absl::StatusOr<std::unique_ptr<ReplicaClient>> Create(const Options& options);
  // Create({.address = socket_path}).
  static absl::StatusOr<std::unique_ptr<ReplicaClient>> Create(const std::string& socket_path);

  // The replica's state. A replica that answers 503 LOADING/DRAINING is OK with ready = false;
  // not reachable -> UNAVAILABLE.
  absl::StatusOr<ReplicaHealth> Health(absl::Duration timeout = absl::Seconds(2));
  absl::StatusOr<ReplicaStatusInfo> Status(absl::Duration timeout = absl::Seconds(2));

  // POST /predict with `json_body` (runtime/predict_codec.h); the 200 response body
  // ({"predictions": [...]}) or the replica's error. Bodies are sent from the caller's memory,
  // not copied: they are hundreds of KiB of image, and a retry sends them again.
  absl::StatusOr<std::string> Predict(std::string_view json_body, absl::Duration timeout);
  // POST /predict_bytes?top_k=N with raw encoded image bytes.
  absl::StatusOr<std::string> PredictBytes(std::string_view image_bytes, int top_k,
                                           absl::Duration timeout);

  // One predict call's limits: `timeout` is also sent as the request's X-Server-Timeout, so the
  // replica drops it before compute once nobody waits for it; `cancel` (optional, not owned)
  // abandons the call (closing its connection: the replica drops the request too);
  // `request_id` (optional) goes as X-Request-Id, so the replica's errors and log lines carry the
  // id the client was given.
  // `timings` (optional, not owned) receives where the replica's time went, from its
  // Server-Timing header, when the call succeeds.
  struct CallOptions {
    absl::Duration timeout = absl::Seconds(60);
    const CancellationToken* cancel = nullptr;
    std::string request_id;
    ReplicaTimings* timings = nullptr;
    std::string traceparent;  // optional: sent as the W3C traceparent header
  };
  absl::StatusOr<std::string> Predict(std::string_view json_body, const CallOptions& call);
  absl::StatusOr<std::string> PredictBytes(std::string_view image_bytes, int top_k,
                                           const CallOptions& call);

  const std::string& base_url() const { return base_url_; }

 private:
  ReplicaClient(std::string base_url, std::unique_ptr<http::HttpClient> client)
      : base_url_(std::move(base_url)), client_(std::move(client)) {}
  absl::StatusOr<std::string> Post(std::string target, std::string_view body,
                                   const std::string& content_type, const CallOptions& call);

  const std::string base_url_;
  const std::unique_ptr<http::HttpClient> client_;
};

// Parses a /status body (exposed for tests). INVALID_ARGUMENT when it is not the replica's shape.
absl::StatusOr<ReplicaStatusInfo> ParseReplicaStatus(const std::string& body);

}  // namespace tessera::control
