// The replica server: one `tessera replica` process's serving core. It owns the engine
// (engine::ImageClassifier), a DynamicBatcher in front of it and an HttpServer on a unix socket
// (and/or TCP), and answers the internal replica API that `tessera serve` calls:
//   GET  /health         200 {"state":"READY"}; 503 {"state":"LOADING"|"DRAINING"|"STOPPED"}
//   GET  /status         200 {"state","inFlight","queueDepth","requests","batches",
//                        "batchSizeHistogram":{"1":n,...},"rssBytes","pid","model":{...},...}
//   POST /predict        Vertex-shaped body (runtime/predict_codec.h) -> {"predictions":[...]}
//   POST /predict_bytes  raw encoded image bytes, ?top_k=N&confidence_threshold=x -> same, 1 image
// Errors are Google JSON errors: 400 INVALID_ARGUMENT for a bad request or image ("instance 2:
// ..."), 429 RESOURCE_EXHAUSTED with Retry-After when the batch queue is full (instances or
// bytes), 503 UNAVAILABLE when not READY, 504 DEADLINE_EXCEEDED when the request's
// X-Server-Timeout (common/http/request_deadline.h) passed before its images were computed, 499
// CANCELLED when its client closed the connection first (nobody reads that answer).
// An expired or cancelled request is dropped before compute: counted as "expired"/"cancelled".
//
// Request path: an HTTP io thread parses the body and base64-decodes it. Then (PreprocessPlace)
// either the io thread decodes and preprocesses every image and submits the tensors only if all
// are valid (a bad image never enters a batch), or it submits the encoded images and the batch
// thread preprocesses them in parallel right before the forward pass (a bad image fails alone;
// its batch-mates are answered). The batch thread, which also loaded the model, runs Forward on
// up to max_batch_size images, and its DoneFn applies top-k and responds.
//
// Threads and ownership: Create, BeginDrain, Drain and the destructor are called by the owner
// (the `tessera replica` main thread, or a test), never from a handler. state() and stats() may
// be called from any thread. The server owns everything it creates.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/admission.h"
#include "common/http/http_server.h"
#include "common/http/http_types.h"
#include "common/replica_spec.h"
#include "engine/image_classifier.h"
#include "engine/precision_agreement.h"
#include "nlohmann/json_fwd.hpp"
#include "runtime/batcher.h"
#include "runtime/predict_codec.h"

namespace tessera::runtime {

enum class ReplicaState {
  kLoading,   // the socket is up (health 503 LOADING); the model is loading and warming up
  kReady,     // model loaded and warmed up: predict requests are accepted (health 200)
  kDraining,  // drain started: new predicts get 503, admitted ones finish (health 503 DRAINING)
  kStopped,   // the batcher and the HTTP server have stopped; nothing runs
};
std::string_view ReplicaStateName(ReplicaState state);

// Where images are decoded and preprocessed.
enum class PreprocessPlace {
  // kBatchThread when the engine threads take every CPU this process may use, else kIoThreads.
  kAuto,
  // On the HTTP io threads as requests arrive, overlapping the forward pass of the batch before:
  // best when the host has cores beyond the engine's.
  kIoThreads,
  // On the batch thread, in parallel on the engine's OpenMP threads, right before the forward
  // pass. When the engine threads already take every core, io-thread decoding competes with
  // them: the engine's OpenMP threads spin between batches, taking the cores the io threads need.
  // Measured on 2 cores (standalone replica, wrk, 16 connections): fashion-vit on a 640x480 PNG
  // 165 vs 96 images/s, ViT-Tiny on a 28x28 PNG 64 vs 63.
  kBatchThread,
};

struct ReplicaServerOptions {
  std::filesystem::path model_dir;
  // Non-empty: prepacked weights shared with the other replicas of this model version
  // (engine::EngineOptions::packed_weights_path).
  std::filesystem::path packed_weights_path;
  // Where to listen: a unix socket path and/or a TCP "address" + port (empty address: no TCP).
  std::string unix_socket_path;
  std::string tcp_address;
  int tcp_port = 0;
  int num_threads = 0;  // engine threads per Forward; 0 = all CPUs
  // The engine's precision, "fp32", "bf16" or "int8" (engine::EngineOptions::precision).
  std::string precision = "fp32";
  // A reduced precision is checked against fp32 on calibration images during warm-up
  // (engine/precision_agreement.h): below this share of agreeing top-1 classes, Create fails.
  double min_precision_agreement = kDefaultMinPrecisionAgreement;
  // HTTP io threads: they parse and base64-decode bodies, and decode and preprocess the images
  // when `preprocess` puts that on them.
  int io_threads = 2;
  PreprocessPlace preprocess = PreprocessPlace::kAuto;
  int max_batch_size = 8;
  int64_t max_queue_delay_us = 0;
  int max_queue_size = 128;  // instances waiting for a batch; beyond it 429
  // Bytes of images admitted and not yet answered (encoded bytes, or float pixels when the io
  // threads preprocess); beyond it 429. 0: unlimited. `tessera replica` derives its default
  // from the machine type's memory (see replica_command.cc).
  int64_t max_queued_bytes = 0;
  PredictCodecOptions codec;              // input key, max instances per request
  int64_t max_image_pixels = 25'000'000;  // decoded width * height, checked from the header
  size_t max_body_bytes = 64 << 20;
  // Tests only: called with "request" (an io thread, before the body is parsed), "batch" (the
  // batch thread, before the forward pass) and "answer" (the batch thread, building a request's
  // response); what it throws is handled as that stage's own exception would be.
  std::function<void(std::string_view stage)> fault_for_test;
};

// The serving settings of `options` as the spec deploy validates (common/replica_spec.h).
ReplicaSpec SpecOf(const ReplicaServerOptions& options);
// INVALID_ARGUMENT naming the bad option (by its `tessera replica` flag for the spec's fields).
absl::Status ValidateReplicaServerOptions(const ReplicaServerOptions& options);

// Counters since Create (a consistent snapshot).
struct ReplicaStats {
  ReplicaState state = ReplicaState::kLoading;
  int64_t in_flight = 0;        // predict requests admitted and not yet answered
  int64_t requests = 0;         // predict requests received (any outcome)
  int64_t failed_requests = 0;  // ...answered with an error
  int64_t expired = 0;          // dropped before compute: deadline passed (504)
  int64_t cancelled = 0;        // dropped before compute: client gone (499)
  int64_t rejected = 0;         // refused: queue full, by instances or bytes (429)
  int64_t queued_bytes = 0;     // now: bytes of admitted, unanswered images
  BatcherStats batcher;         // batches, histogram, queue depth
};

class ReplicaServer {
 public:
  // Starts the HTTP server (state LOADING), loads the model, warms it up (a Forward at batch
  // sizes 1 and max_batch_size) and becomes READY. On failure everything is shut down (the socket
  // file removed) and the error returned: the engine's load error as "cannot load the model:
  // <file>: ..." (its code kept), or the HTTP server's ("cannot listen on ...", UNAVAILABLE).
  static absl::StatusOr<std::unique_ptr<ReplicaServer>> Create(const ReplicaServerOptions& options);

  // Drain(absl::Seconds(30)) if not drained.
  ~ReplicaServer();
  ReplicaServer(const ReplicaServer&) = delete;
  ReplicaServer& operator=(const ReplicaServer&) = delete;

  // READY -> DRAINING: health answers 503, new predicts 503 UNAVAILABLE. Returns at once.
  void BeginDrain();
  // BeginDrain, then waits for admitted requests to be preprocessed, processes everything queued
  // (without the queue delay), answers it, and shuts the HTTP server down within `timeout`
  // (connections still busy then are closed). STOPPED afterwards. Idempotent.
  void Drain(absl::Duration timeout);

  ReplicaState state() const;
  ReplicaStats stats() const;
  // The /status body.
  nlohmann::json StatusJson() const;
  const engine::ModelInfo& model_info() const { return classifier_->info(); }
  const std::string& unix_socket_path() const { return options_.unix_socket_path; }
  int tcp_port() const { return http_ != nullptr ? http_->port() : 0; }

 private:
  // One image as it enters the batcher: preprocessed (pixels_per_image floats) or, when
  // preprocessing happens on the batch thread, still encoded.
  struct Tensor {
    std::vector<float> pixels;
    std::string encoded;
  };
  using Logits = std::vector<float>;
  using Batcher = DynamicBatcher<Tensor, Logits>;

  explicit ReplicaServer(const ReplicaServerOptions& options);
  absl::Status Load();
  // Load's work, on the batch thread: the engine, the batch buffers, the warm-up passes.
  absl::Status LoadEngine();
  // Below options_.min_precision_agreement: FAILED_PRECONDITION with the figures.
  absl::Status CheckPrecisionAgreement(const engine::EngineOptions& engine_options);
  std::vector<absl::StatusOr<Logits>> ProcessBatch(std::span<const Tensor* const> batch);

  void HandleRequest(http::HttpRequest&& request, http::Responder responder);
  void HandlePredict(const http::HttpRequest& request, const http::Responder& responder);
  // Takes the request's body (the encoded image).
  void HandlePredictBytes(http::HttpRequest& request, const http::Responder& responder);
  // Preprocesses `images` and submits them; responds now on error, or later from the batch thread
  // (`submitted` is set once the batcher owns the answer).
  void PreprocessAndSubmit(std::vector<std::string> images, const PredictParameters& parameters,
                           const SubmitOptions& submit, const std::string& request_id,
                           const http::Responder& responder, bool& submitted);
  // Where one request's time went before its batch: preprocessing on an io thread (the `io`
  // place) and when it entered the batch queue.
  struct RequestTiming {
    absl::Duration io_preprocess;
    std::chrono::steady_clock::time_point queued;
  };
  // The batch's results for one request, as its response (on the batch thread), with a
  // Server-Timing header: queue, preprocess and inference of the batch that completed it.
  void Answer(absl::StatusOr<Batcher::Results> results, const PredictParameters& parameters,
              const RequestTiming& timing, const http::Responder& responder);
  // The request's deadline (X-Server-Timeout) and cancellation; INVALID_ARGUMENT for a bad header.
  static absl::StatusOr<SubmitOptions> SubmitOptionsFor(const http::HttpRequest& request,
                                                        const http::Responder& responder);
  // Why a request must be dropped before any work (OK: go on); counts the drop.
  absl::Status DeadOnArrival(const SubmitOptions& submit);
  // The 429 for a full queue, with Retry-After from the measured drain rate.
  absl::Status QueueFull(absl::Status status) const;
  // Takes one in-flight slot and one preprocessing slot if READY (false: the caller answers 503).
  bool Admit();
  // For a request Admit() let in: runs `predict`, then gives back the preprocessing slot (Drain
  // waits for those). An exception of any type from `predict` answers the request 500 with its
  // request id, unless it was answered or handed to the batcher already; the replica serves on.
  void RunAdmitted(const http::HttpRequest& request, const http::Responder& responder,
                   const std::function<void(bool& submitted)>& predict);
  // Gives the slot back and counts the outcome; then sends `response`.
  void Finish(const http::Responder& responder, http::HttpResponse&& response);

  const ReplicaServerOptions options_;
  bool preprocess_in_batch_ = false;  // options_.preprocess resolved (kAuto decided here)
  std::unique_ptr<engine::ImageClassifier> classifier_;  // set before READY; then immutable
  std::string gemm_kernel_;  // the engine's GEMM kernel at the max batch; set with classifier_
  std::string attention_kernel_;  // and its attention kernel
  // A reduced precision's check against fp32; set with classifier_ (empty in fp32).
  std::optional<engine::PrecisionAgreement> precision_agreement_;
  std::unique_ptr<Batcher> batcher_;                     // set before READY
  std::unique_ptr<http::HttpServer> http_;
  ByteBudget queued_bytes_;
  // Batch-thread-only workspaces for Forward.
  std::vector<float> batch_pixels_;
  std::vector<float> batch_logits_;

  mutable absl::Mutex mu_;
  ReplicaState state_ ABSL_GUARDED_BY(mu_) = ReplicaState::kLoading;
  bool drained_ ABSL_GUARDED_BY(mu_) = false;  // Drain() ran (or is running)
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t preprocessing_ ABSL_GUARDED_BY(mu_) = 0;  // admitted, not yet submitted or answered
  int64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failed_requests_ ABSL_GUARDED_BY(mu_) = 0;
  // Dropped before reaching the batcher (the batcher counts its own drops).
  int64_t expired_early_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t cancelled_early_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rejected_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // refused by queued_bytes_
};

// The resident set size of this process (from /proc/self/statm), or 0 if unreadable.
int64_t CurrentRssBytes();

}  // namespace tessera::runtime
