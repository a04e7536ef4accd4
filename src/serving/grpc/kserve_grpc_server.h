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
// Failures: no exception leaves a method (gRPC's sync server would terminate the process): one of
// any type is answered INTERNAL, its message naming the call's request id, logged at error level.
// Every call's id (the client's "x-request-id" metadata when short and printable, else a fresh
// one) is returned in the trailing metadata "x-request-id".
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "serving/predict/model_resolver.h"
#include "serving/predict/prediction_service.h"

namespace tessera::serving {

class KserveGrpcServer {
 public:
  struct Options {
    std::string listen;  // "127.0.0.1:8081"; port 0 picks a free one (see port())
    PredictionService* predictions = nullptr;
    const ModelResolver* resolver = nullptr;
    int max_message_bytes = 64 << 20;
    // Tests only: runs first in every method with the method's name ("ModelInfer"); what it
    // throws is handled as an exception of the method itself.
    std::function<void(std::string_view method)> before_call_for_test;
  };

  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<KserveGrpcServer>> Start(const Options& options);
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
