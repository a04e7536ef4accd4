// The routes that show metrics:
//   GET /metrics  Prometheus text format (common/metrics/prometheus_text.h) of the whole server:
//                 a viewer (or higher) key for every project, since its series span every
//                 project; or, unauthenticated, on a listener of its own (serve
//                 --metrics-listen), for a scraper on a private network.
//   GET /v1/projects/{project}/locations/{location}/endpoints/{endpoint}/timeSeries
//                 the console's charts of one endpoint (time_series.h), for a key that may read
//                 the endpoint's project (as the replicas view).
// Both answer on the io thread: a snapshot is a copy of counters plus a few /proc reads.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/http/handler.h"
#include "common/metrics/metrics.h"
#include "nlohmann/json.hpp"
#include "serving/front_door/secured_router.h"
#include "serving/observability/time_series.h"

namespace tessera::serving {

inline constexpr char kMetricsPath[] = "/metrics";

// Answers GET with the registry's text.
http::SyncHandler MetricsHandler(const metrics::MetricsRegistry* registry);

absl::Status AddMetricsRoute(SecuredRouter& router, const metrics::MetricsRegistry* registry);
// Whether an endpoint (resource name) exists: OK, or the error to answer (NOT_FOUND: 404).
using EndpointCheck = std::function<absl::Status(const std::string& endpoint)>;

absl::Status AddTimeSeriesRoute(SecuredRouter& router, const TimeSeriesRecorder* recorder,
                                EndpointCheck endpoint_exists);

// {"endpoint": ..., "resolutionSeconds": 10, "deployedModels": [{"deployedModelId": "1",
//   "points": [{"time": ..., "requestsPerSecond": ..., ...}]}]}; NaN latencies are null.
nlohmann::ordered_json TimeSeriesJson(const std::string& endpoint, absl::Duration resolution,
                                      const std::vector<DeployedModelSeries>& series);

}  // namespace tessera::serving
