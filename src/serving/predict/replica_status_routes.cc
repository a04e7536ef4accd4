#include "serving/predict/replica_status_routes.h"

#include <memory>
#include <utility>

#include "common/http/google_error.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "serving/predict/endpoint_route.h"

namespace tessera::serving {
namespace {

constexpr RouteAccess kReplicaViewAccess{auth::Action::kRead, Scope::kProject};

std::string TimeText(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

nlohmann::ordered_json EventJson(const control::AutoscalingEvent& e) {
  nlohmann::ordered_json j;
  j["time"] = TimeText(e.time);
  j["currentReplicaCount"] = e.current_replica_count;
  j["desiredReplicaCount"] = e.desired_replica_count;
  j["recommendation"] = e.recommendation;
  j["limitedBy"] = e.limited_by;
  j["reason"] = e.reason;
  if (!e.error.empty()) j["error"] = e.error;
  return j;
}

nlohmann::ordered_json StatusJson(const control::DeployedModelStatus& s,
                                  const ReplicaStatusSources& sources) {
  nlohmann::ordered_json j;
  j["deployedModelId"] = s.deployed_model_id;
  j["model"] = s.model;
  j["modelVersionId"] = s.model_version_id;
  j["modelDisplayName"] = s.model_display_name;
  j["desiredReplicaCount"] = s.desired_replica_count;
  j["readyReplicaCount"] = s.ready_replica_count;
  j["startFailures"] = s.start_failures;
  j["lastError"] = s.last_error;
  nlohmann::ordered_json replicas = nlohmann::ordered_json::array();
  for (const control::ReplicaStatus& r : s.replicas) {
    nlohmann::ordered_json rj;
    rj["id"] = r.id;
    rj["state"] = std::string(control::ReplicaStateName(r.state));
    rj["pid"] = r.pid;
    rj["rssBytes"] = r.rss_bytes;
    rj["pssBytes"] = r.pss_bytes;
    rj["weightBytes"] = r.weight_bytes;
    rj["sharedWeightBytes"] = r.shared_weight_bytes;
    rj["precision"] = r.precision;
    rj["isa"] = r.isa;
    rj["gemmKernel"] = r.gemm_kernel;
    rj["attentionKernel"] = r.attention_kernel;
    if (r.precision_agreement.images > 0) {
      const control::PrecisionAgreementInfo& a = r.precision_agreement;
      rj["precisionAgreement"] = {{"images", a.images},
                                  {"agreeing", a.agreeing},
                                  {"fraction", double(a.agreeing) / double(a.images)},
                                  {"maxConfidenceDifference", a.max_confidence_difference},
                                  {"source", a.source}};
    } else {
      rj["precisionAgreement"] = nullptr;
    }
    rj["requests"] = r.requests;
    rj["failedRequests"] = r.failed_requests;
    rj["expired"] = r.expired;
    rj["cancelled"] = r.cancelled;
    rj["rejected"] = r.rejected;
    rj["queuedBytes"] = r.queued_bytes;
    rj["batches"] = r.batches;
    rj["queueDepth"] = r.queue_depth;
    nlohmann::ordered_json histogram = nlohmann::ordered_json::object();
    for (const auto& [size, count] : r.batch_size_histogram) {
      histogram[std::to_string(size)] = count;
    }
    rj["batchSizeHistogram"] = std::move(histogram);
    rj["inFlight"] = r.in_flight;
    rj["restarts"] = r.restarts;
    rj["startTime"] = TimeText(r.started);
    rj["readyTime"] = TimeText(r.ready_since);
    rj["lastError"] = r.last_error;
    replicas.push_back(std::move(rj));
  }
  j["replicas"] = std::move(replicas);
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  if (sources.autoscaling_events) {
    for (const control::AutoscalingEvent& e : sources.autoscaling_events(s.deployed_model_id)) {
      events.push_back(EventJson(e));
    }
  }
  j["autoscalingEvents"] = std::move(events);
  return j;
}

http::HttpResponse JsonOk(const nlohmann::ordered_json& body) {
  http::HttpResponse out;
  out.status = 200;
  out.content_type = std::string(http::kJsonContentType);
  out.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return out;
}

}  // namespace

absl::Status AddReplicaStatusRoutes(SecuredRouter& router, ReplicaStatusSources sources) {
  if (!sources.deployed_models) {
    return absl::InvalidArgumentError("AddReplicaStatusRoutes: deployed_models is required");
  }
  auto shared = std::make_shared<const ReplicaStatusSources>(std::move(sources));
  RETURN_IF_ERROR(router.AddSync("GET", std::string(kEndpointRoutePattern) + "/replicas",
                                 kReplicaViewAccess, [shared](http::HttpRequest&& request) {
                                   const std::string endpoint = EndpointNameOf(request);
                                   nlohmann::ordered_json list = nlohmann::ordered_json::array();
                                   for (const control::DeployedModelStatus& s :
                                        shared->deployed_models()) {
                                     if (s.endpoint == endpoint)
                                       list.push_back(StatusJson(s, *shared));
                                   }
                                   nlohmann::ordered_json body;
                                   body["deployedModels"] = std::move(list);
                                   return JsonOk(body);
                                 }));
  RETURN_IF_ERROR(router.AddSync(
      "GET", std::string(kEndpointRoutePattern) + "/deployedModels/{deployed_model}/replicas",
      kReplicaViewAccess, [shared](http::HttpRequest&& request) {
        const std::string endpoint = EndpointNameOf(request);
        const std::string& id = request.PathParam("deployed_model");
        for (const control::DeployedModelStatus& s : shared->deployed_models()) {
          if (s.endpoint == endpoint && s.deployed_model_id == id) {
            return JsonOk(StatusJson(s, *shared));
          }
        }
        return http::GoogleErrorResponse(absl::NotFoundError(
            fmt::format("no replicas run for deployed model {} on {}", id, endpoint)));
      }));
  return absl::OkStatus();
}

}  // namespace tessera::serving
