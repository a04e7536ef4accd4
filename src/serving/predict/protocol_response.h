// Responses of the TF Serving and KServe v2 REST frontends.
//
// Errors: {"error": "<message>"}, with the same HTTP status as a Google error for that code
// (common/http/google_error.h).
// Why not Google's shape there: those protocols' clients read "error" as a string. tritonclient
// concatenates it into its exception message and fails with a TypeError on an object, so a Google
// error body would turn every clear 400 into a client crash. Vertex routes keep Google's shape.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "common/http/http_types.h"
#include "nlohmann/json.hpp"

namespace tessera::serving {

http::HttpResponse PlainErrorResponse(const absl::Status& status);

// The error in the shape of the API that `target` belongs to: plain for TF Serving (/v1/models/)
// and KServe v2 (/v2/), Google's elsewhere. For errors the HTTP server answers itself (a request
// refused by admission before any route ran).
http::HttpResponse ErrorResponseForTarget(std::string_view target, const absl::Status& status);

// 200 with `body` as compact JSON, keys in the order built (invalid UTF-8 replaced, never thrown).
http::HttpResponse OrderedJsonResponse(const nlohmann::ordered_json& body);

}  // namespace tessera::serving
