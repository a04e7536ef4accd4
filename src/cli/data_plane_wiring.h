// The seam between `tessera serve` (cli/serve_command.cc, the control plane) and the data plane
// (replica supervisor, routing, predict frontends). serve_command builds the control plane, then
// calls CreateDataPlane once and wires what it returns:
//   - waiter(): given to EndpointService, so deploy/undeploy operations wait for replicas;
//   - AddRoutes(): the predict and protocol routes, on the same Router as the control plane;
//   - Start(): after EndpointService exists and before the server listens;
//   - Stop(): on shutdown, after the HTTP server stopped taking requests (drains replicas).
// Called from serve's main thread only.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/rate_limiter.h"
#include "common/metrics/metrics.h"
#include "common/tracing/span_exporter.h"
#include "control/deployment_waiter.h"
#include "control/endpoint_service.h"
#include "registry/model_service.h"
#include "serving/front_door/front_door.h"
#include "serving/front_door/secured_router.h"
#include "serving/predict/payload_log.h"

namespace tessera::cli {

struct DataPlaneDeps {
  registry::ModelService* models;
  // Null when CreateDataPlane runs: EndpointService needs the waiter at its own creation, so it
  // is created after the data plane and filled in here before Start() is called.
  control::EndpointService* endpoints;
  std::filesystem::path data_dir;
  std::string self_binary;  // argv[0] resolved: the `tessera` binary replicas are started from
  std::string grpc_listen;  // KServe v2 gRPC "ADDR:PORT"; empty: no gRPC server
  absl::Duration predict_timeout = absl::Seconds(60);  // PredictionService::request_timeout
  // Threads forwarding predicts to replicas (each blocks on one replica call) and the predicts
  // waiting for one; beyond both, 429 at once (serving/predict/offload.h).
  int predict_threads = 128;
  int max_queued_predicts = 128;
  // Every gRPC call passes it, as every HTTP route does (serving/front_door/front_door.h).
  serving::FrontDoor* door = nullptr;
  // Buckets of the endpoints' rate limits (PredictionService::Options::endpoint_limits).
  auth::RateLimiter* endpoint_limits = nullptr;
  // Required: where the prediction path, the replicas and the autoscaler report.
  metrics::MetricsRegistry* metrics = nullptr;
  std::string log_format = "text";  // the replicas log as the server does
  std::string log_level = "info";   // ...and at the level it started with
  tracing::SpanExporter* spans = nullptr;  // optional: where predict spans go (OTLP)
  serving::PayloadLogger* payloads = nullptr;  // optional: request/response logging
  // The gRPC port's TLS: PEM certificate chain and key (both empty: plaintext).
  std::string grpc_tls_certificate_chain;
  std::string grpc_tls_private_key;
  absl::Duration grpc_handshake_timeout = absl::Seconds(10);  // serve's --header-timeout
};

class DataPlane {
 public:
  virtual ~DataPlane() = default;
  virtual control::DeploymentWaiter* waiter() = 0;           // used by EndpointService
  virtual absl::Status AddRoutes(serving::SecuredRouter& router) = 0;  // predict + protocols
  virtual absl::Status Start() = 0;  // also starts the gRPC server when deps.grpc_listen is set
  virtual void Stop() = 0;
  virtual int grpc_port() const = 0;  // after Start(); 0 without a gRPC server
  // Drops the metric series and payload logs of endpoints that no longer exist (run now and
  // then).
  virtual void RetainLiveSeries() = 0;
  // Whether the routing table holds `endpoint` (a resource name): every endpoint is in it within
  // a reconcile tick (50 ms) of its creation. In memory: safe on an io thread.
  virtual bool Routes(const std::string& endpoint) const = 0;
};

// `deps` itself (the struct, owned by serve) outlives the returned DataPlane, and so do the
// objects it points to. deps.endpoints is null at this call: serve creates EndpointService with
// waiter() and then sets deps.endpoints before calling Start(). So an implementation keeps a
// reference to `deps` (not a copy) and reads `endpoints` no earlier than Start().
absl::StatusOr<std::unique_ptr<DataPlane>> CreateDataPlane(const DataPlaneDeps& deps);

}  // namespace tessera::cli
