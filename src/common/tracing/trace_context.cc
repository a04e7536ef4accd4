#include "common/tracing/trace_context.h"

#include <algorithm>

#include "common/random_id.h"
#include "fmt/format.h"

namespace tessera::tracing {
namespace {

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool AllZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

// The spec forbids all-zero ids.
std::string NonZeroHexId(int digits) {
  while (true) {
    std::string id = RandomHexId(digits);
    if (!AllZero(id)) return id;
  }
}

}  // namespace

std::optional<TraceContext> ParseTraceparent(std::string_view header) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
  if (header.size() < 55) return std::nullopt;
  const std::string_view version = header.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  if (version == "00" && header.size() != 55) return std::nullopt;
  if (header.size() > 55 && header[55] != '-') return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  const std::string_view trace_id = header.substr(3, 32);
  const std::string_view span_id = header.substr(36, 16);
  const std::string_view flags = header.substr(53, 2);
  if (!IsLowerHex(trace_id) || !IsLowerHex(span_id) || !IsLowerHex(flags)) return std::nullopt;
  if (AllZero(trace_id) || AllZero(span_id)) return std::nullopt;
  const int flag_bits = std::stoi(std::string(flags), nullptr, 16);
  return TraceContext{.trace_id = std::string(trace_id),
                      .span_id = std::string(span_id),
                      .sampled = (flag_bits & 1) != 0};
}

std::string FormatTraceparent(const TraceContext& context) {
  return fmt::format("00-{}-{}-{}", context.trace_id, context.span_id,
                     context.sampled ? "01" : "00");
}

std::string NewTraceId() { return NonZeroHexId(32); }
std::string NewSpanId() { return NonZeroHexId(16); }

}  // namespace tessera::tracing
