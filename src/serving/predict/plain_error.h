// The error body of TF Serving's and KServe v2's REST APIs: {"error": "<message>"}, with the same
// HTTP status as a Google error for that code (common/http/google_error.h).
//
// Why not Google's shape there: those protocols' clients read "error" as a string. tritonclient
// concatenates it into its exception message and fails with a TypeError on an object, so a Google
// error body would turn every clear 400 into a client crash. Vertex routes keep Google's shape.
#pragma once

#include "absl/status/status.h"
#include "common/http/http_types.h"

namespace tessera::serving {

http::HttpResponse PlainErrorResponse(const absl::Status& status);

}  // namespace tessera::serving
