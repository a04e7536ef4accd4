#include "serving/predict/offload.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "common/http/exception_response.h"
#include "common/http/google_error.h"

namespace tessera::serving {

void Offload(rest::BlockingExecutor* executor, http::HttpRequest&& request,
             http::Responder responder, BlockingWork work) {
  auto shared = std::make_shared<http::HttpRequest>(std::move(request));
  const bool queued = executor->Submit([shared, responder, work = std::move(work)] {
    http::HttpResponse response;
    try {
      response = work(*shared);
    } catch (...) {
      // A decoder or service bug on hostile input: this request fails, the server serves on.
      response = http::ExceptionResponse("predict executor", *shared);
    }
    responder.Respond(std::move(response));
  });
  if (!queued) {
    responder.Respond(http::GoogleErrorResponse(
        absl::UnavailableError("the server is overloaded (predict queue full); retry later")));
  }
}

http::Handler OffloadedHandler(rest::BlockingExecutor* executor, BlockingWork work) {
  return
      [executor, work = std::move(work)](http::HttpRequest&& request, http::Responder responder) {
        Offload(executor, std::move(request), std::move(responder), work);
      };
}

}  // namespace tessera::serving
