// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header,
// "00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>". A request that arrives with a
// valid one continues that trace; any other gets a new trace. Ids are lower-case hex strings,
// as OTLP/JSON writes them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tessera::tracing {

inline constexpr std::string_view kTraceparentHeader = "traceparent";

struct TraceContext {
  std::string trace_id;  // 32 hex digits, not all zero
  std::string span_id;   // 16 hex digits, not all zero: the caller's span (our parent)
  bool sampled = false;  // flags bit 0
};

// The header's context; nullopt for anything that is not a valid version-00 header (or a later
// version's, read as 00 as the spec asks: its first four fields).
std::optional<TraceContext> ParseTraceparent(std::string_view header);
std::string FormatTraceparent(const TraceContext& context);

std::string NewTraceId();  // 32 random hex digits, not all zero
std::string NewSpanId();   // 16 random hex digits, not all zero

}  // namespace tessera::tracing
