// Google's JSON error shape, both ways:
//   {"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT"}}
// Servers turn an absl::Status into that body with the google.rpc code -> HTTP status mapping;
// clients (the CLI, the server's replica client) turn a response back into an absl::Status.
// Pure functions, thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/http/http_types.h"
#include "nlohmann/json_fwd.hpp"

namespace tessera::http {

// google.rpc.Code -> HTTP status: INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE 400;
// UNAUTHENTICATED 401; PERMISSION_DENIED 403; NOT_FOUND 404; ALREADY_EXISTS, ABORTED 409;
// RESOURCE_EXHAUSTED 429; CANCELLED 499; UNIMPLEMENTED 501; UNAVAILABLE 503;
// DEADLINE_EXCEEDED 504; INTERNAL, UNKNOWN, DATA_LOSS 500; OK 200.
int HttpStatusFromCode(absl::StatusCode code);

// Retry-After travels with the status (as a payload), so every layer that passes a
// RESOURCE_EXHAUSTED along -- replica, router, frontend -- keeps the hint without its own field:
// GoogleErrorResponse writes it as the `Retry-After` header (seconds) and StatusFromHttpResponse
// reads it back from a response.
inline constexpr std::string_view kRetryAfterHeader = "Retry-After";
void SetRetryAfterSeconds(absl::Status& status, int seconds);
std::optional<int> RetryAfterSeconds(const absl::Status& status);
// Sets `Retry-After` on `response` when `status` carries the hint.
void AddRetryAfterHeader(const absl::Status& status, HttpResponse& response);

// A google.rpc.ErrorInfo detail ("why", machine-readable), carried with the status like the
// Retry-After hint and written by GoogleErrorJson as a "details" entry:
//   {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
//    "domain": "tessera", "metadata": {"limit": "key", ...}}
struct ErrorInfo {
  std::string reason;  // UPPER_SNAKE_CASE, e.g. "RATE_LIMIT_EXCEEDED"
  std::string domain = "tessera";
  std::map<std::string, std::string> metadata;
};
void SetErrorInfo(absl::Status& status, const ErrorInfo& info);
std::optional<ErrorInfo> GetErrorInfo(const absl::Status& status);

// HTTP status -> the canonical code, for responses without a Google error body: 2xx OK;
// 400 INVALID_ARGUMENT; 401 UNAUTHENTICATED; 403 PERMISSION_DENIED; 404 NOT_FOUND;
// 405 UNIMPLEMENTED; 408 DEADLINE_EXCEEDED; 409 ABORTED; 412 FAILED_PRECONDITION;
// 413 INVALID_ARGUMENT; 416 OUT_OF_RANGE; 429 RESOURCE_EXHAUSTED; 499 CANCELLED; 500 INTERNAL;
// 501 UNIMPLEMENTED; 502, 503 UNAVAILABLE; 504 DEADLINE_EXCEEDED; other 4xx FAILED_PRECONDITION;
// other 5xx INTERNAL; anything else UNKNOWN.
absl::StatusCode CodeFromHttpStatus(int http_status);

// "INVALID_ARGUMENT", "NOT_FOUND", ... (the google.rpc.Code enum names).
std::string CodeName(absl::StatusCode code);
// The reverse of CodeName; false when `name` is not one.
bool CodeFromName(std::string_view name, absl::StatusCode* code);

// {"error": {"code": <http_status>, "message": ..., "status": ...}}, with "details" holding the
// status's ErrorInfo when it has one. An OK `status` is reported as INTERNAL ("OK status
// reported as an error"): a caller bug must not produce a 200-coded error.
nlohmann::json GoogleErrorJson(int http_status, const absl::Status& status);
// The same, and when `request_id` is not empty, a details entry (after any ErrorInfo) as Google
// APIs send it:
//   "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "..."}]
nlohmann::json GoogleErrorJson(int http_status, const absl::Status& status,
                               std::string_view request_id);

// The response for `status`: HTTP status from HttpStatusFromCode, Google error body, JSON type.
HttpResponse GoogleErrorResponse(const absl::Status& status);
// The same with an explicit HTTP status, for transport errors without their own code (405, 413,
// 431): e.g. GoogleErrorResponse(413, absl::InvalidArgumentError("body too large")).
HttpResponse GoogleErrorResponse(int http_status, const absl::Status& status);
// With the request's id in a google.rpc.RequestInfo details entry (see GoogleErrorJson).
HttpResponse GoogleErrorResponse(int http_status, const absl::Status& status,
                                 std::string_view request_id);

// The status a response means (with its Retry-After header as the hint above). 2xx -> OK.
// Otherwise, when the body is a Google error, its "status" and "message" (the message is kept
// verbatim) and its ErrorInfo detail, if any; if not, the code from CodeFromHttpStatus and a
// message "HTTP <status>: <first 200 bytes of the body>".
absl::Status StatusFromHttpResponse(int http_status, std::string_view body);
absl::Status StatusFromHttpResponse(const HttpResponse& response);

}  // namespace tessera::http
