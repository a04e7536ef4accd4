// Running a predict handler off the HTTP io threads. Predict handlers block on a replica (up to
// the request timeout), and io threads must never block (common/http/handler.h), so every
// prediction frontend hands its request to a BlockingExecutor. A full executor queue answers 503
// UNAVAILABLE at once instead of queueing without bound.
#pragma once

#include <functional>

#include "common/http/handler.h"
#include "common/http/http_types.h"
#include "serving/rest/blocking_executor.h"

namespace tessera::serving {

using BlockingWork = std::function<http::HttpResponse(http::HttpRequest&)>;

// Runs `work(request)` on `executor` and responds with its result. An exception of any type from
// `work` is answered 500 INTERNAL with the request id (common/http/exception_response.h).
void Offload(rest::BlockingExecutor* executor, http::HttpRequest&& request,
             http::Responder responder, BlockingWork work);

// A router Handler that offloads `work`.
http::Handler OffloadedHandler(rest::BlockingExecutor* executor, BlockingWork work);

}  // namespace tessera::serving
