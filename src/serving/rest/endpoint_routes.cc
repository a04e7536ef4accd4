// EndpointService routes of ControlPlaneApi (control_plane_api.h).
#include "common/status_macros.h"
#include "fmt/format.h"
#include "serving/rest/control_plane_api.h"
#include "serving/rest/endpoint_codec.h"
#include "serving/rest/json_fields.h"
#include "serving/rest/request_util.h"

namespace tessera::serving::rest {
namespace {

using nlohmann::json;

const std::vector<std::string_view> kCreationOrder = {"create_time", "createTime",
                                                      "create_time asc", "createTime asc"};

}  // namespace

http::HttpResponse ControlPlaneApi::CreateEndpoint(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  registry::Endpoint endpoint;
  if (absl::Status s = EndpointFromJson(*body, "endpoint", endpoint); !s.ok()) return Error(s);
  if (!endpoint.traffic_split.empty()) {
    return Error(absl::InvalidArgumentError(
        "endpoint.trafficSplit must be empty at creation: nothing is deployed yet"));
  }
  const std::string endpoint_id =
      request.QueryParam("endpointId").value_or(request.QueryParam("endpoint_id").value_or(""));
  absl::StatusOr<registry::Operation> op =
      options_.endpoints->CreateEndpoint(ParentFromPath(request), endpoint, endpoint_id);
  if (!op.ok()) return Error(op.status());
  return OperationResponse(*op);
}

http::HttpResponse ControlPlaneApi::GetEndpoint(const http::HttpRequest& request) {
  absl::StatusOr<registry::Endpoint> endpoint =
      options_.endpoints->GetEndpoint(ResourceFromPath(request, "endpoints", "endpoint"));
  if (!endpoint.ok()) return Error(endpoint.status());
  return Ok(EndpointToJson(*endpoint));
}

http::HttpResponse ControlPlaneApi::ListEndpoints(const http::HttpRequest& request) {
  absl::StatusOr<registry::ListQuery> query = ListQueryFromRequest(request, kCreationOrder);
  if (!query.ok()) return Error(query.status());
  absl::StatusOr<registry::ListPage<registry::Endpoint>> page =
      options_.endpoints->ListEndpoints(ParentFromPath(request), *query);
  if (!page.ok()) return Error(page.status());
  json endpoints = json::array();
  for (const auto& e : page->items) endpoints.push_back(EndpointToJson(e));
  json j = {{"endpoints", std::move(endpoints)}};
  if (!page->next_page_token.empty()) j["nextPageToken"] = page->next_page_token;
  return Ok(j);
}

http::HttpResponse ControlPlaneApi::UpdateEndpoint(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  registry::Endpoint endpoint;
  if (absl::Status s = EndpointFromJson(*body, "endpoint", endpoint); !s.ok()) return Error(s);
  const std::string name = ResourceFromPath(request, "endpoints", "endpoint");
  if (!endpoint.name.empty() && endpoint.name != name) {
    return Error(absl::InvalidArgumentError(fmt::format(
        "endpoint.name \"{}\" does not match the name in the URL \"{}\"", endpoint.name, name)));
  }
  endpoint.name = name;
  absl::StatusOr<registry::Endpoint> updated =
      options_.endpoints->UpdateEndpoint(endpoint, UpdateMaskFromRequest(request));
  if (!updated.ok()) return Error(updated.status());
  return Ok(EndpointToJson(*updated));
}

http::HttpResponse ControlPlaneApi::DeleteEndpoint(const http::HttpRequest& request) {
  absl::StatusOr<registry::Operation> op =
      options_.endpoints->DeleteEndpoint(ResourceFromPath(request, "endpoints", "endpoint"));
  if (!op.ok()) return Error(op.status());
  return OperationResponse(*op);
}

http::HttpResponse ControlPlaneApi::DeployModel(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  absl::StatusOr<control::DeployModelRequest> deploy =
      DeployModelRequestFromJson(ResourceFromPath(request, "endpoints", "endpoint"), *body);
  if (!deploy.ok()) return Error(deploy.status());
  absl::StatusOr<registry::Operation> op = options_.endpoints->DeployModel(*deploy);
  if (!op.ok()) return Error(op.status());
  return OperationResponse(*op);
}

http::HttpResponse ControlPlaneApi::UndeployModel(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  absl::StatusOr<control::UndeployModelRequest> undeploy =
      UndeployModelRequestFromJson(ResourceFromPath(request, "endpoints", "endpoint"), *body);
  if (!undeploy.ok()) return Error(undeploy.status());
  absl::StatusOr<registry::Operation> op = options_.endpoints->UndeployModel(*undeploy);
  if (!op.ok()) return Error(op.status());
  return OperationResponse(*op);
}

}  // namespace tessera::serving::rest
