// Helpers shared by the control-plane route handlers: resource names from path parameters, list
// query parameters, update masks, error responses. Internal to serving/rest. Pure functions.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/handler.h"
#include "common/http/http_types.h"
#include "nlohmann/json.hpp"
#include "registry/list_query.h"
#include "serving/rest/blocking_executor.h"

namespace tessera::serving::rest {

// "projects/{project}/locations/{location}" from the route's parameters.
std::string ParentFromPath(const http::HttpRequest& request);
// ParentFromPath + "/" + collection + "/" + the value of path parameter `param`.
std::string ResourceFromPath(const http::HttpRequest& request, std::string_view collection,
                             const std::string& param);

// pageSize, pageToken, filter; orderBy only where it names the list's natural order
// (`natural_orders`, e.g. {"create_time", "createTime"}), INVALID_ARGUMENT otherwise.
// readMask and unknown parameters (e.g. the client libraries' "$alt") are ignored.
absl::StatusOr<registry::ListQuery> ListQueryFromRequest(
    const http::HttpRequest& request, const std::vector<std::string_view>& natural_orders);

// updateMask=a,b.c (a google.protobuf.FieldMask in its JSON form); empty when absent.
std::vector<std::string> UpdateMaskFromRequest(const http::HttpRequest& request);

// A google.protobuf.Duration in JSON form ("30s", "1.5s"); a bare number is taken as seconds.
absl::StatusOr<absl::Duration> ParseDuration(std::string_view text);

// A handler that runs `method` on `executor` and answers what it returns: an exception is a 500
// with the request id (`what` names the API in the log), a full queue a 503 asking to retry.
// `executor` must outlive the handler.
http::Handler OnExecutor(BlockingExecutor* executor,
                         std::function<http::HttpResponse(const http::HttpRequest&)> method,
                         std::string what);

// 200 with `body`, or the Google error of `status`.
http::HttpResponse Ok(const nlohmann::json& body);
http::HttpResponse Error(const absl::Status& status);

}  // namespace tessera::serving::rest
