// The Prometheus text exposition format (version 0.0.4), what /metrics answers: one "# HELP" and
// "# TYPE" line per family, then one line per sample; histograms as <name>_bucket{le=...},
// <name>_sum and <name>_count. Label values are escaped (\\, \", \n) and made valid UTF-8 (a bad
// byte becomes U+FFFD): Prometheus rejects a whole scrape for one bad label value.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/metrics/metrics.h"

namespace tessera::metrics {

inline constexpr std::string_view kPrometheusTextContentType =
    "text/plain; version=0.0.4; charset=utf-8";

std::string RenderPrometheusText(const std::vector<FamilySnapshot>& families);

// A sample value as the format writes it: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string FormatSampleValue(double value);

// `value` with invalid UTF-8 sequences replaced by U+FFFD.
std::string ValidUtf8(std::string_view value);

}  // namespace tessera::metrics
