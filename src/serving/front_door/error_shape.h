// The two error shapes of Tessera's HTTP frontends, and the choice between them.
//
// Vertex routes (and the control plane) answer Google's JSON error (common/http/google_error.h).
// The TF Serving and KServe v2 REST routes answer {"error": "<message>"}, with the same HTTP
// status as a Google error for that code. Why not Google's shape there: those protocols' clients
// read "error" as a string. tritonclient concatenates it into its exception message and fails
// with a TypeError on an object, so a Google error body would turn every clear 400 into a client
// crash. Both shapes carry Retry-After when the status has it.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "common/http/http_types.h"
#include "nlohmann/json.hpp"

namespace tessera::serving {

enum class ErrorShape { kGoogle, kPlain };

http::HttpResponse PlainErrorResponse(const absl::Status& status);
http::HttpResponse ErrorResponseIn(ErrorShape shape, const absl::Status& status);

// The shape of the API that `target` belongs to: plain for TF Serving (/v1/models/) and KServe v2
// (/v2/), Google's elsewhere.
ErrorShape ErrorShapeForTarget(std::string_view target);
// The error in that shape. For errors the HTTP server answers itself (a request refused by
// admission before any route ran).
http::HttpResponse ErrorResponseForTarget(std::string_view target, const absl::Status& status);

// 200 with `body` as compact JSON, keys in the order built (invalid UTF-8 replaced, never thrown).
http::HttpResponse OrderedJsonResponse(const nlohmann::ordered_json& body);

}  // namespace tessera::serving
