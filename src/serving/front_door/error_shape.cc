#include "serving/front_door/error_shape.h"

#include <string>

#include "common/http/google_error.h"
#include "nlohmann/json.hpp"

namespace tessera::serving {

http::HttpResponse PlainErrorResponse(const absl::Status& status) {
  const absl::Status error =
      status.ok() ? absl::InternalError("OK status reported as an error") : status;
  http::HttpResponse response =
      http::JsonResponse(http::HttpStatusFromCode(error.code()),
                         nlohmann::json{{"error", std::string(error.message())}});
  http::AddRetryAfterHeader(error, response);
  return response;
}

http::HttpResponse ErrorResponseIn(ErrorShape shape, const absl::Status& status) {
  return shape == ErrorShape::kGoogle ? http::GoogleErrorResponse(status)
                                      : PlainErrorResponse(status);
}

ErrorShape ErrorShapeForTarget(std::string_view target) {
  const bool plain =
      target.starts_with("/v1/models/") || target.starts_with("/v2/") || target == "/v2";
  return plain ? ErrorShape::kPlain : ErrorShape::kGoogle;
}

http::HttpResponse ErrorResponseForTarget(std::string_view target, const absl::Status& status) {
  return ErrorResponseIn(ErrorShapeForTarget(target), status);
}

http::HttpResponse OrderedJsonResponse(const nlohmann::ordered_json& body) {
  http::HttpResponse out;
  out.content_type = std::string(http::kJsonContentType);
  out.body = body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return out;
}

}  // namespace tessera::serving
