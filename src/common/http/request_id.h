// Request ids: every request the HttpServer reads gets one (HttpRequest::request_id), echoed in
// the X-Request-Id response header and carried by the errors and log lines made for it, so a
// client's report of a failure can be found in the server's log. A client's own X-Request-Id is
// kept when it is short and printable (it may come from a proxy that already logs it); anything
// else is replaced by a fresh id. Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/http/http_types.h"

namespace tessera::http {

inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";
inline constexpr size_t kMaxRequestIdBytes = 128;

// 1..kMaxRequestIdBytes visible ASCII characters (0x21-0x7e): safe in a header and a log line.
bool IsAcceptableRequestId(std::string_view id);

// 32 random hex digits.
std::string NewRequestId();

// The client's X-Request-Id when acceptable, else NewRequestId().
std::string RequestIdFor(const HttpHeaders& headers);

}  // namespace tessera::http
