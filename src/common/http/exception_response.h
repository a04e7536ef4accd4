// The answer to a request whose handler threw: every place that runs request code on a thread
// (the HttpServer's io threads, the blocking executors, the predict offload) catches everything
// and calls this from its catch block, so no exception on untrusted input reaches a thread's top
// and the client still gets an answer. Thread-safe.
#pragma once

#include <string_view>

#include "common/http/http_types.h"

namespace tessera::http {

// Call only inside a catch block. Logs the exception at error level with the request id and
// `where` (e.g. "predict executor"), and returns 500 INTERNAL: a Google error whose message
// names the request id, with a google.rpc.RequestInfo details entry carrying it.
HttpResponse ExceptionResponse(std::string_view where, const HttpRequest& request);
// The same when the request itself is gone (moved into the handler): `request_line` is what
// the log shows of it ("GET /v1/...", may be empty).
HttpResponse ExceptionResponse(std::string_view where, std::string_view request_id,
                               std::string_view request_line);

}  // namespace tessera::http
