#include "serving/observability/logging_routes.h"

#include <string>

#include "common/http/google_error.h"
#include "common/http/http_types.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/untrusted_json.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace tessera::serving {
namespace {

constexpr char kLoggingPath[] = "/v1/logging";

}  // namespace

absl::Status AddLoggingRoutes(SecuredRouter& router) {
  constexpr RouteAccess kLoggingAccess{auth::Action::kAdmin, Scope::kEveryProject};
  const auto level_json = [] {
    return http::JsonResponse(200, nlohmann::json{{"level", CurrentLogLevel()}});
  };
  RETURN_IF_ERROR(router.AddSync("GET", kLoggingPath, kLoggingAccess,
                                 [level_json](http::HttpRequest&&) { return level_json(); }));
  return router.AddSync(
      "PUT", kLoggingPath, kLoggingAccess, [level_json](http::HttpRequest&& request) {
        // A few bytes of JSON are expected: anything deep or long is refused before parsing.
        const absl::StatusOr<nlohmann::json> parsed =
            ParseUntrustedJson(request.body, JsonLimits{.max_depth = 2, .max_values = 8});
        const nlohmann::json body = parsed.ok() ? *parsed : nlohmann::json();
        if (!body.is_object() || !body.contains("level") || !body["level"].is_string() ||
            body.size() != 1) {
          return http::GoogleErrorResponse(absl::InvalidArgumentError(
              "the body must be {\"level\": \"debug\" | \"info\" | \"warn\" | \"error\"}"));
        }
        const std::string level = body["level"].get<std::string>();
        if (absl::Status set = SetLogLevel(level); !set.ok()) {
          return http::GoogleErrorResponse(set);
        }
        spdlog::warn("log level set to {} (PUT {})", level, kLoggingPath);
        return level_json();
      });
}

}  // namespace tessera::serving
