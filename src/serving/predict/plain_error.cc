#include "serving/predict/plain_error.h"

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

}  // namespace tessera::serving
