#include "common/http/exception_response.h"

#include "absl/status/status.h"
#include "common/current_exception.h"
#include "common/http/google_error.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::http {

HttpResponse ExceptionResponse(std::string_view where, std::string_view request_id,
                               std::string_view request_line) {
  const std::string what = CurrentExceptionMessage();
  spdlog::error("{}: request {} {}threw {}", where, request_id,
                request_line.empty() ? "" : fmt::format("({}) ", request_line), what);
  return GoogleErrorResponse(
      500,
      absl::InternalError(fmt::format("internal error (request id {}): {}", request_id, what)),
      request_id);
}

HttpResponse ExceptionResponse(std::string_view where, const HttpRequest& request) {
  // The raw target: percent-encoded, so no control characters reach the log.
  constexpr size_t kMaxLoggedTarget = 256;
  return ExceptionResponse(where, request.request_id,
                           fmt::format("{} {}", request.method,
                                       std::string_view(request.target).substr(0, kMaxLoggedTarget)));
}

}  // namespace tessera::http
