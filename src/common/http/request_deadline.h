// A request's deadline on the wire: the `X-Server-Timeout` header, seconds as a decimal
// ("30", "0.5"), as Google APIs accept it on REST. Clients send it to `tessera serve`; serve sends
// the time left of the smallest deadline that applies (client, endpoint, server default) to the
// replica the same way, so the replica's batcher drops a request nobody waits for any more.
// A relative timeout rather than an absolute time: the replica may be on another host's clock.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/http_types.h"

namespace tessera::http {

inline constexpr std::string_view kServerTimeoutHeader = "X-Server-Timeout";

// The timeout a header value names. INVALID_ARGUMENT unless it is a finite, non-negative decimal
// number of seconds (at most 10 digits before the point; a longer one is clamped to a day).
absl::StatusOr<absl::Duration> ParseServerTimeout(std::string_view value);

// `now` + the request's X-Server-Timeout, or absl::InfiniteFuture() without the header.
// INVALID_ARGUMENT (naming the header) for a bad value.
absl::StatusOr<absl::Time> RequestDeadline(const HttpRequest& request, absl::Time now);

// The header value for `remaining` (milliseconds precision, at least 0.001: a deadline that has
// just passed is still sent as "expired", not as "no deadline").
std::string ServerTimeoutValue(absl::Duration remaining);

}  // namespace tessera::http
