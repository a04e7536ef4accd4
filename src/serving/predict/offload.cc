#include "serving/predict/offload.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "common/http/exception_response.h"
#include "common/http/google_error.h"
#include "common/http/request_deadline.h"
#include "serving/front_door/error_shape.h"
#include "serving/predict/predict_context.h"

namespace tessera::serving {

void Offload(rest::BlockingExecutor* executor, http::HttpRequest&& request,
             http::Responder responder, BlockingWork work, ErrorShape errors) {
  absl::StatusOr<absl::Time> deadline = http::RequestDeadline(request, absl::Now());
  if (!deadline.ok()) {
    responder.Respond(ErrorResponseIn(errors, deadline.status()));
    return;
  }
  PredictContext context{.client_deadline = *deadline,
                         .cancellation = responder.cancellation(),
                         .request_id = request.request_id,
                         .principal = request.principal};
  auto shared = std::make_shared<http::HttpRequest>(std::move(request));
  const bool queued = executor->Submit([shared, responder, work = std::move(work),
                                        context = std::move(context), errors] {
    if (responder.cancelled()) {
      responder.Respond(ErrorResponseIn(
          errors, absl::CancelledError("the client closed its connection before the "
                                       "request was processed")));
      return;
    }
    if (context.client_deadline <= absl::Now()) {
      responder.Respond(ErrorResponseIn(
          errors, absl::DeadlineExceededError(
                      "the request's deadline (X-Server-Timeout) passed before it was processed")));
      return;
    }
    ScopedPredictContext scope(context);
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
    absl::Status full =
        absl::ResourceExhaustedError("the server is overloaded (predict queue full); retry later");
    http::SetRetryAfterSeconds(full, 1);
    responder.Respond(ErrorResponseIn(errors, full));
  }
}

http::Handler OffloadedHandler(rest::BlockingExecutor* executor, BlockingWork work,
                               ErrorShape errors) {
  return [executor, work = std::move(work), errors](http::HttpRequest&& request,
                                                    http::Responder responder) {
    Offload(executor, std::move(request), std::move(responder), work, errors);
  };
}

}  // namespace tessera::serving
