#include "serving/predict/protocol_response.h"

#include <string>

#include "common/http/google_error.h"
#include "nlohmann/json.hpp"

namespace tessera::serving {

http::HttpResponse PlainErrorResponse(const absl::Status& status) {
  const absl::Status error =
      status.ok() ? absl::InternalError("OK status reported as an error") : status;
  return http::JsonResponse(http::HttpStatusFromCode(error.code()),
                            nlohmann::json{{"error", std::string(error.message())}});
}

http::HttpResponse OrderedJsonResponse(const nlohmann::ordered_json& body) {
  http::HttpResponse out;
  out.content_type = std::string(http::kJsonContentType);
  out.body = body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return out;
}

}  // namespace tessera::serving
