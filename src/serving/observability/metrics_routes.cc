#include "serving/observability/metrics_routes.h"

#include <cmath>
#include <string>

#include "absl/time/time.h"
#include "common/http/google_error.h"
#include "common/http/http_types.h"
#include "common/metrics/prometheus_text.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera::serving {
namespace {

constexpr RouteAccess kMetricsAccess{auth::Action::kRead, Scope::kEveryProject, ErrorShape::kPlain};
constexpr RouteAccess kTimeSeriesAccess{auth::Action::kRead, Scope::kProject};
constexpr char kTimeSeriesPattern[] =
    "/v1/projects/{project}/locations/{location}/endpoints/{endpoint}/timeSeries";

nlohmann::ordered_json NumberOrNull(double value) {
  return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

}  // namespace

http::SyncHandler MetricsHandler(const metrics::MetricsRegistry* registry) {
  return [registry](http::HttpRequest&&) {
    http::HttpResponse response;
    response.status = 200;
    response.content_type = std::string(metrics::kPrometheusTextContentType);
    response.body = metrics::RenderPrometheusText(registry->Snapshot());
    return response;
  };
}

absl::Status AddMetricsRoute(SecuredRouter& router, const metrics::MetricsRegistry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("AddMetricsRoute: no registry");
  return router.AddSync("GET", kMetricsPath, kMetricsAccess, MetricsHandler(registry));
}

nlohmann::ordered_json TimeSeriesJson(const std::string& endpoint, absl::Duration resolution,
                                      const std::vector<DeployedModelSeries>& series) {
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  for (const DeployedModelSeries& s : series) {
    nlohmann::ordered_json points = nlohmann::ordered_json::array();
    for (const TimeSeriesPoint& p : s.points) {
      points.push_back(
          {{"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", p.time, absl::UTCTimeZone())},
           {"requestsPerSecond", p.requests_per_second},
           {"errorsPerSecond", p.errors_per_second},
           {"latencyP50Seconds", NumberOrNull(p.latency_p50_seconds)},
           {"latencyP99Seconds", NumberOrNull(p.latency_p99_seconds)},
           {"replicasReady", p.replicas_ready},
           {"replicasDesired", p.replicas_desired},
           {"cpuUtilization", p.cpu_utilization}});
    }
    models.push_back({{"deployedModelId", s.deployed_model_id}, {"points", std::move(points)}});
  }
  return {{"endpoint", endpoint},
          {"resolutionSeconds", absl::ToDoubleSeconds(resolution)},
          {"deployedModels", std::move(models)}};
}

absl::Status AddTimeSeriesRoute(SecuredRouter& router, const TimeSeriesRecorder* recorder,
                                EndpointCheck endpoint_exists) {
  if (recorder == nullptr || !endpoint_exists) {
    return absl::InvalidArgumentError(
        "AddTimeSeriesRoute: a recorder and an endpoint check are required");
  }
  return router.AddSync(
      "GET", kTimeSeriesPattern, kTimeSeriesAccess,
      [recorder, endpoint_exists = std::move(endpoint_exists)](http::HttpRequest&& request) {
        const std::string endpoint =
            fmt::format("projects/{}/locations/{}/endpoints/{}", request.path_params.at("project"),
                        request.path_params.at("location"), request.path_params.at("endpoint"));
        if (absl::Status exists = endpoint_exists(endpoint); !exists.ok()) {
          return http::GoogleErrorResponse(exists);
        }
        http::HttpResponse response;
        response.status = 200;
        response.content_type = std::string(http::kJsonContentType);
        response.body = TimeSeriesJson(endpoint, recorder->resolution(), recorder->Series(endpoint))
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return response;
      });
}

}  // namespace tessera::serving
