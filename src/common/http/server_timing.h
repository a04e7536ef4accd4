// The Server-Timing response header (W3C Server Timing): "queue;dur=1.25, inference;dur=20.5",
// durations in milliseconds. A replica answers each predict with where its time went (queueing,
// preprocessing, inference); the server reads it into its latency metrics. Parsing is lenient
// about what it skips (unknown parameters, malformed entries) and never trusts a value that is
// not a finite, non-negative number.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace tessera::http {

inline constexpr std::string_view kServerTimingHeader = "Server-Timing";

// "name;dur=<ms>" entries joined by ", "; names must be tokens (letters, digits, '-', '_').
std::string FormatServerTiming(const std::vector<std::pair<std::string, absl::Duration>>& entries);

// Metric name -> duration, for the entries with a valid "dur" (the first of a repeated name).
std::map<std::string, absl::Duration> ParseServerTiming(std::string_view header);

}  // namespace tessera::http
