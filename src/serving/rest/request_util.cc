#include "serving/rest/request_util.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "common/http/exception_response.h"
#include "common/http/google_error.h"
#include "fmt/format.h"

namespace tessera::serving::rest {

std::string ParentFromPath(const http::HttpRequest& request) {
  return fmt::format("projects/{}/locations/{}", request.PathParam("project"),
                     request.PathParam("location"));
}

std::string ResourceFromPath(const http::HttpRequest& request, std::string_view collection,
                             const std::string& param) {
  return fmt::format("{}/{}/{}", ParentFromPath(request), collection, request.PathParam(param));
}

absl::StatusOr<registry::ListQuery> ListQueryFromRequest(
    const http::HttpRequest& request, const std::vector<std::string_view>& natural_orders) {
  registry::ListQuery query;
  const auto param = [&](std::string_view camel,
                         std::string_view snake) -> std::optional<std::string> {
    std::optional<std::string> v = request.QueryParam(camel);
    return v ? v : request.QueryParam(snake);
  };
  if (std::optional<std::string> size = param("pageSize", "page_size"); size && !size->empty()) {
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(size->c_str(), &end, 10);
    if (end == size->c_str() || *end != '\0' || errno == ERANGE || value < INT32_MIN ||
        value > INT32_MAX) {
      return absl::InvalidArgumentError(
          fmt::format("Invalid value at 'page_size' (TYPE_INT32), \"{}\"", *size));
    }
    query.page_size = static_cast<int32_t>(value);
  }
  query.page_token = param("pageToken", "page_token").value_or("");
  query.filter = request.QueryParam("filter").value_or("");
  const std::string order = param("orderBy", "order_by").value_or("");
  if (!order.empty() &&
      std::find(natural_orders.begin(), natural_orders.end(), order) == natural_orders.end()) {
    std::string supported;
    for (std::string_view o : natural_orders) {
      if (!supported.empty()) supported += ", ";
      supported += fmt::format("\"{}\"", o);
    }
    return absl::InvalidArgumentError(
        fmt::format("orderBy \"{}\" is not supported; this list supports {}", order,
                    supported.empty() ? "no orderBy" : supported));
  }
  return query;
}

std::vector<std::string> UpdateMaskFromRequest(const http::HttpRequest& request) {
  std::vector<std::string> paths;
  for (const auto& [name, value] : request.query) {
    if (name != "updateMask" && name != "update_mask" && name != "updateMask.paths") continue;
    size_t start = 0;
    while (start <= value.size()) {
      const size_t comma = value.find(',', start);
      std::string path =
          value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      // Trim spaces: "displayName, labels" is a common hand-typed form.
      path.erase(0, path.find_first_not_of(' '));
      path.erase(path.find_last_not_of(' ') + 1);
      if (!path.empty()) paths.push_back(std::move(path));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return paths;
}

absl::StatusOr<absl::Duration> ParseDuration(std::string_view text) {
  std::string number(text);
  if (!number.empty() && number.back() == 's') number.pop_back();
  char* end = nullptr;
  const double seconds = std::strtod(number.c_str(), &end);
  if (number.empty() || end == number.c_str() || *end != '\0' || !(seconds >= 0) || seconds > 1e9) {
    return absl::InvalidArgumentError(fmt::format(
        "Invalid value for timeout: \"{}\" (expected a duration such as \"30s\")", text));
  }
  return absl::Seconds(seconds);
}

http::Handler OnExecutor(BlockingExecutor* executor,
                         std::function<http::HttpResponse(const http::HttpRequest&)> method,
                         std::string what) {
  return [executor, method = std::move(method), what = std::move(what)](http::HttpRequest&& request,
                                                                        http::Responder responder) {
    auto shared = std::make_shared<http::HttpRequest>(std::move(request));
    const bool queued = executor->Submit([method, what, shared, responder] {
      http::HttpResponse response;
      try {
        response = method(*shared);
      } catch (...) {
        // A codec or service bug must not take the server down; report it as INTERNAL.
        response = http::ExceptionResponse(what, *shared);
      }
      responder.Respond(std::move(response));
    });
    if (!queued) {
      responder.Respond(Error(absl::UnavailableError(
          fmt::format("the {} is overloaded or shutting down; retry the request", what))));
    }
  };
}

http::HttpResponse Ok(const nlohmann::json& body) { return http::JsonResponse(200, body); }

http::HttpResponse Error(const absl::Status& status) { return http::GoogleErrorResponse(status); }

}  // namespace tessera::serving::rest
