// KServe v2 / Open Inference Protocol over gRPC (inference.GRPCInferenceService, kserve_v2.proto):
// ServerLive, ServerReady, ServerMetadata, ModelReady, ModelMetadata and ModelInfer, with the same
// model mapping and tensors as the REST frontend (serving/predict/model_resolver.h, kserve_v2.h).
// ModelInfer reads BYTES from raw_input_contents or contents.bytes_contents and answers in
// raw_output_contents. absl status codes map one to one onto gRPC codes (same numbering).
//
// Threads: gRPC's synchronous server runs each call on its own thread pool; ModelInfer blocks on a
// replica like every predict. Shutdown() (also run by the destructor) stops taking calls and waits
// up to `deadline` for those in flight. `predictions` and `resolver` must outlive the server.
//
// Access: every call passes the front door (front_door.h): a key in the "authorization" (Bearer)
// or "x-api-key" metadata; ServerLive and ServerReady are public (probes); model names resolve
// within the key's projects and endpoints. Refusals are UNAUTHENTICATED, PERMISSION_DENIED or
// RESOURCE_EXHAUSTED (with "retry-after" trailing metadata), and go to the audit log.
// TLS: with a certificate and key in Options, the port speaks only TLS.
//
// Failures: no exception leaves a method (gRPC's sync server would terminate the process): one of
// any type is answered INTERNAL, its message naming the call's request id, logged at error level.
// Every call's id (the client's "x-request-id" metadata when short and printable, else a fresh
// one) is returned in the trailing metadata "x-request-id".
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "serving/front_door/front_door.h"
#include "serving/predict/model_resolver.h"
#include "serving/predict/predict_metrics.h"
#include "serving/predict/prediction_service.h"

namespace tessera::serving {

class KserveGrpcServer {
 public:
  struct Options {
    std::string listen;  // "127.0.0.1:8081"; port 0 picks a free one (see port())
    PredictionService* predictions = nullptr;
    const ModelResolver* resolver = nullptr;
    FrontDoor* door = nullptr;  // required: every call passes it (front_door.h)
    PredictMetrics* metrics = nullptr;  // optional: counts ModelInfer calls (predict_metrics.h)
    tracing::SpanExporter* spans = nullptr;  // optional: their spans (predict_tracing.h)
    // TLS: the PEM certificate chain and private key (both, or neither for plaintext).
    std::string tls_certificate_chain;
    std::string tls_private_key;
    int max_message_bytes = 64 << 20;
    // A connection that has not finished its TLS / HTTP/2 handshake by then is closed, and one
    // without a call for idle_timeout too: a peer cannot hold sockets open for free.
    absl::Duration handshake_timeout = absl::Seconds(10);
    absl::Duration idle_timeout = absl::Seconds(60);
    int max_concurrent_streams = 100;  // calls at once on one connection
    // Tests only: runs first in every method with the method's name ("ModelInfer"); what it
    // throws is handled as an exception of the method itself.
    std::function<void(std::string_view method)> before_call_for_test;
  };

  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<KserveGrpcServer>> Start(const Options& options);

  // Every method of the service with its access rule (what `serve --list-routes` prints).
  struct MethodAccess {
    std::string method;  // "ModelInfer"
    RouteAccess access;
  };
  static std::vector<MethodAccess> Methods();
  // The service's full name, "inference.GRPCInferenceService".
  static std::string ServiceName();
  ~KserveGrpcServer();

  int port() const { return port_; }
  void Shutdown(absl::Duration deadline = absl::Seconds(10));

 private:
  struct Impl;
  explicit KserveGrpcServer(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace tessera::serving
