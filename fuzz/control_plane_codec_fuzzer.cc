// The control-plane REST codecs on hostile bodies, as the routes call them: the first byte picks
// the message, the rest is the body (ParseJsonObjectBody, then the message's FromJson and the
// validation its service applies before touching the store). Errors must be INVALID_ARGUMENT or
// FAILED_PRECONDITION (never INTERNAL), and whatever is accepted must serialize back.
//   0 models:upload           1 models:mergeVersionAliases   2 Endpoint (create / patch)
//   3 endpoints:deployModel   4 endpoints:undeployModel      5 query string (updateMask,
//                                                              pageSize, pageToken, filter)
//   6 a rate limit (keys, endpoints)                        7 a project quota PATCH
#include <set>

#include "control/deployment_rules.h"
#include "control/machine_types.h"
#include "control/quota.h"
#include "control/traffic_split.h"
#include "fuzz_util.h"
#include "registry/list_query.h"
#include "registry/validation.h"
#include "serving/rest/admin_codec.h"
#include "serving/rest/endpoint_codec.h"
#include "serving/rest/json_fields.h"
#include "serving/rest/model_codec.h"
#include "serving/rest/request_util.h"

namespace rest = tessera::serving::rest;
namespace registry = tessera::registry;
namespace control = tessera::control;
using tessera::fuzz::Require;

namespace {

constexpr char kParent[] = "projects/p/locations/us-central1";
constexpr char kEndpoint[] = "projects/p/locations/us-central1/endpoints/7";

void RequireClientError(const absl::Status& status) {
  Require(status.ok() || absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status),
          "a client error that is not INVALID_ARGUMENT or FAILED_PRECONDITION");
}

void Upload(const nlohmann::json& body) {
  absl::StatusOr<registry::UploadModelRequest> request =
      rest::UploadModelRequestFromJson(kParent, body);
  RequireClientError(request.status());
  if (!request.ok()) return;
  registry::Model model = request->model;
  model.name = std::string(kParent) + "/models/1";
  (void)rest::ModelToJson(model).dump();
  (void)rest::ModelToJson(model, {.strict = true}).dump();
}

void Aliases(const nlohmann::json& body) {
  absl::StatusOr<std::vector<std::string>> aliases = rest::MergeVersionAliasesFromJson(body);
  RequireClientError(aliases.status());
  if (!aliases.ok()) return;
  for (const std::string& alias : *aliases) {
    std::string_view a = alias;
    if (a.starts_with('-')) a.remove_prefix(1);  // "-alias" removes it
    RequireClientError(registry::ValidateVersionAlias(a));
  }
}

// An endpoint with two deployed models, for the split rules.
registry::Endpoint ExistingEndpoint() {
  registry::Endpoint endpoint;
  endpoint.name = kEndpoint;
  for (const char* id : {"1", "2"}) {
    registry::DeployedModel dm;
    dm.id = id;
    dm.model = std::string(kParent) + "/models/3";
    endpoint.deployed_models.push_back(dm);
  }
  endpoint.traffic_split = {{"1", 100}};
  return endpoint;
}

void Endpoint(const nlohmann::json& body) {
  registry::Endpoint endpoint;
  absl::Status status = rest::EndpointFromJson(body, "endpoint", endpoint);
  RequireClientError(status);
  if (!status.ok()) return;
  RequireClientError(registry::ValidateDisplayName(endpoint.display_name, "endpoint.displayName"));
  RequireClientError(registry::ValidateDescription(endpoint.description, "endpoint.description"));
  RequireClientError(registry::ValidateLabels(endpoint.labels));
  RequireClientError(tessera::ValidateTrafficSplit(endpoint.traffic_split, {"1", "2"}));
  RequireClientError(control::ValidateEndpointSplit(ExistingEndpoint(), endpoint.traffic_split));
  (void)tessera::TrafficSplitToString(endpoint.traffic_split);
  endpoint.name = kEndpoint;
  (void)rest::EndpointToJson(endpoint).dump();
}

void Deploy(const nlohmann::json& body) {
  absl::StatusOr<control::DeployModelRequest> request =
      rest::DeployModelRequestFromJson(kEndpoint, body);
  RequireClientError(request.status());
  if (!request.ok()) return;
  registry::DeployedModel dm = request->deployed_model;
  absl::StatusOr<control::MachineType> machine =
      control::NormalizeResources(dm, {.cpu_count = 16, .memory_bytes = int64_t{64} << 30});
  RequireClientError(machine.status());
  if (machine.ok()) RequireClientError(control::ValidateServingOptions(dm, *machine));
  absl::StatusOr<registry::TrafficSplit> split =
      control::DeploySplit(ExistingEndpoint(), request->traffic_split);
  RequireClientError(split.status());
  if (split.ok()) (void)control::ReplaceNewModelKey(*split, "9");
  dm.id = "9";
  (void)rest::DeployedModelToJson(dm).dump();
}

void Undeploy(const nlohmann::json& body) {
  absl::StatusOr<control::UndeployModelRequest> request =
      rest::UndeployModelRequestFromJson(kEndpoint, body);
  RequireClientError(request.status());
  if (!request.ok()) return;
  absl::StatusOr<registry::TrafficSplit> split = control::UndeploySplit(
      ExistingEndpoint(), request->deployed_model_id, request->traffic_split);
  RequireClientError(split.status());
}

// `text` as the query string of GET .../models?...: updateMask, the list parameters, a filter.
void Query(std::string_view text) {
  tessera::http::HttpRequest request;
  request.method = "GET";
  request.target = "/v1/projects/p/locations/l/models?" + std::string(text);
  // The server splits and decodes the query; here each '&' part is name=value as sent.
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    const size_t eq = part.find('=');
    request.query.emplace(std::string(part.substr(0, eq)),
                          eq == std::string_view::npos ? "" : std::string(part.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  for (const std::string& path : rest::UpdateMaskFromRequest(request)) (void)path.size();
  absl::StatusOr<registry::ListQuery> list =
      rest::ListQueryFromRequest(request, {"create_time", "createTime"});
  RequireClientError(list.status());
  RequireClientError(
      registry::ParseListFilter(text, {.display_name = true, .labels = true, .done = true})
          .status());
  RequireClientError(registry::DecodePageToken(text, "models").status());
  RequireClientError(rest::ParseDuration(text).status());
}

void RateLimit(const nlohmann::json& body) {
  absl::StatusOr<registry::RateLimit> limit = rest::RateLimitFromJson(body, "rateLimit");
  RequireClientError(limit.status());
  if (!limit.ok()) return;
  Require(limit->requests_per_second > 0 && limit->burst >= 1, "an invalid rate limit accepted");
  (void)rest::RateLimitJson(*limit).dump();
}

void Quota(const nlohmann::json& body) {
  registry::ProjectQuota quota{.project = "p"};
  absl::Status merged = rest::MergeQuotaJson(body, quota);
  RequireClientError(merged);
  if (!merged.ok()) return;
  RequireClientError(control::ValidateQuota(quota));
  (void)rest::QuotaReportJson({.quota = quota, .usage = {}}).dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int selector = data[0] % 8;
  const std::string_view text = tessera::fuzz::AsView(data + 1, size - 1);
  if (selector == 5) {
    Query(text);
    return 0;
  }
  absl::StatusOr<nlohmann::json> body = rest::ParseJsonObjectBody(text);
  RequireClientError(body.status());
  if (!body.ok()) return 0;
  switch (selector) {
    case 0: Upload(*body); break;
    case 1: Aliases(*body); break;
    case 2: Endpoint(*body); break;
    case 3: Deploy(*body); break;
    case 4: Undeploy(*body); break;
    case 6:
      RateLimit(*body);
      break;
    case 7:
      Quota(*body);
      break;
  }
  return 0;
}
