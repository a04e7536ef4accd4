// Running a predict handler off the HTTP io threads. Predict handlers block on a replica (up to
// the request timeout), and io threads must never block (common/http/handler.h), so every
// prediction frontend hands its request to a BlockingExecutor. A full executor queue answers 429
// RESOURCE_EXHAUSTED (with Retry-After) at once instead of queueing without bound.
//
// Deadlines and cancellation start here: the request's X-Server-Timeout (a bad one is 400) counts
// from its arrival, so time spent waiting for an executor thread is part of it; a request whose
// deadline passed (504) or whose client left (499) while it waited is answered without running.
// Otherwise `work` runs inside a ScopedPredictContext (predict_context.h) carrying both to the
// PredictionService.
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "common/http/handler.h"
#include "common/http/http_types.h"
#include "common/tracing/span_exporter.h"
#include "serving/front_door/error_shape.h"
#include "serving/predict/payload_log.h"
#include "serving/predict/predict_metrics.h"
#include "serving/rest/blocking_executor.h"

namespace tessera::serving {

using BlockingWork = std::function<http::HttpResponse(http::HttpRequest&)>;

// Where the prediction frontends run their requests, and what counts them.
struct PredictRunner {
  rest::BlockingExecutor* executor = nullptr;  // required, not owned
  PredictMetrics* metrics = nullptr;           // optional, not owned
  tracing::SpanExporter* spans = nullptr;      // optional, not owned: predict_tracing.h
  PayloadLogger* payloads = nullptr;           // optional, not owned: Vertex :predict only
  // The same executor, counting and tracing nothing: for the routes that are not predicts.
  PredictRunner Uncounted() const { return PredictRunner{.executor = executor}; }
};

// Runs `work(request)` on the runner's executor and responds with its result. An exception of any
// type from `work` is answered 500 INTERNAL with the request id (common/http/exception_response.h).
// Every request is counted once by the runner's metrics when it is answered, whatever answered it.
void Offload(const PredictRunner& runner, PredictProtocol protocol, http::HttpRequest&& request,
             http::Responder responder, BlockingWork work, ErrorShape errors = ErrorShape::kGoogle);

// A router Handler that offloads `work`.
http::Handler OffloadedHandler(const PredictRunner& runner, PredictProtocol protocol,
                               BlockingWork work, ErrorShape errors = ErrorShape::kGoogle);

}  // namespace tessera::serving
