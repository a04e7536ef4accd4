// What a frontend knows about one predict request that the PredictionService must honour but
// that no protocol body carries: the client's deadline (X-Server-Timeout on REST, the gRPC
// deadline), its cancellation (the client closed its connection), its request id, and who sent
// it (the key's principal, which bounds the endpoints a model name may reach).
//
// Set for the duration of one frontend call on the thread that makes it (ScopedPredictContext),
// read by PredictionService on that thread. A thread-local instead of a parameter, so every
// frontend (Vertex, TF Serving, KServe REST and gRPC) and its helpers (ClassifyImages) pass it on
// without each signature growing a deadline argument -- the way a gRPC or Go context travels.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/cancellation.h"
#include "common/principal.h"
#include "common/tracing/trace_context.h"
#include "control/replica_client.h"

namespace tessera::serving {

// What one predict turned out to be, for the frontend's metrics and logs: the PredictionService
// fills it (who served it, the replica's timings, whether the endpoint's rate limit refused it);
// the frontend reads it when it answers. The endpoint is set only for an endpoint the routing
// table knows: a label never holds a name a client made up.
struct PredictRecord {
  std::string endpoint;  // resource name; "" when the request reached no known endpoint
  std::string deployed_model_id;
  std::string model;  // resource name
  std::string model_version_id;
  control::ReplicaTimings timings;
  bool endpoint_rate_limited = false;
  // The endpoint's request/response logging (payload_log.h): 0 when off.
  double payload_sampling_rate = 0;
  bool payload_store_images = false;
};

struct PredictContext {
  absl::Time client_deadline = absl::InfiniteFuture();
  CancellationTokenPtr cancellation;  // null: the client cannot be observed leaving
  std::string request_id;             // the id the client is given; sent on to the replica
  std::shared_ptr<const Principal> principal;  // null: unrestricted (no authentication)
  // Where the PredictionService writes what happened (null: nobody reads it). Shared: the
  // context is copied into the scope of the thread that runs the call.
  std::shared_ptr<PredictRecord> record;
  // The request's trace: its frontend span (predict_tracing.h); empty trace_id: untraced.
  tracing::TraceContext trace;
};

// The context of the predict call running on this thread (the default one outside any scope).
const PredictContext& CurrentPredictContext();

// Makes `context` current on this thread until destroyed (then the previous one again).
class ScopedPredictContext {
 public:
  explicit ScopedPredictContext(PredictContext context);
  ~ScopedPredictContext();
  ScopedPredictContext(const ScopedPredictContext&) = delete;
  ScopedPredictContext& operator=(const ScopedPredictContext&) = delete;

 private:
  PredictContext context_;
  const PredictContext* previous_;
};

}  // namespace tessera::serving
