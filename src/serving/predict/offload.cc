#include "serving/predict/offload.h"

#include <chrono>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "common/http/exception_response.h"
#include "common/http/google_error.h"
#include "common/http/request_deadline.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "serving/front_door/error_shape.h"
#include "serving/predict/predict_context.h"
#include "serving/predict/predict_tracing.h"

namespace tessera::serving {
namespace {

// Answers a request, counts it and ends its span (once: every path out of Offload comes here).
class CountedResponder {
 public:
  CountedResponder(http::Responder responder, const PredictRunner& runner, PredictProtocol protocol,
                   const http::HttpRequest& request)
      : responder_(std::move(responder)),
        metrics_(runner.metrics),
        protocol_(protocol),
        arrived_(std::chrono::steady_clock::now()),
        record_(std::make_shared<PredictRecord>()),
        span_(std::make_shared<PredictSpan>(
            runner.spans, request.headers.GetOr(tracing::kTraceparentHeader, ""),
            fmt::format("predict {}", PredictProtocolName(protocol)))),
        request_id_(request.request_id) {
    if (metrics_ != nullptr) metrics_->Started(protocol_);
  }
  void Respond(http::HttpResponse response) const {
    if (metrics_ != nullptr) {
      metrics_->Finished(protocol_, *record_, response.status,
                         absl::FromChrono(std::chrono::steady_clock::now() - arrived_));
    }
    span_->End(*record_, response.status, request_id_);
    responder_.Respond(std::move(response));
  }
  const http::Responder& responder() const { return responder_; }
  const std::shared_ptr<PredictRecord>& record() const { return record_; }
  const tracing::TraceContext& trace() const { return span_->context(); }

 private:
  http::Responder responder_;
  PredictMetrics* metrics_;
  PredictProtocol protocol_;
  std::chrono::steady_clock::time_point arrived_;  // monotonic: a clock step is no latency
  std::shared_ptr<PredictRecord> record_;
  std::shared_ptr<const PredictSpan> span_;
  std::string request_id_;
};

}  // namespace

void Offload(const PredictRunner& runner, PredictProtocol protocol, http::HttpRequest&& request,
             http::Responder responder, BlockingWork work, ErrorShape errors) {
  const CountedResponder answer(std::move(responder), runner, protocol, request);
  absl::StatusOr<absl::Time> deadline = http::RequestDeadline(request, absl::Now());
  if (!deadline.ok()) {
    answer.Respond(ErrorResponseIn(errors, deadline.status()));
    return;
  }
  PredictContext context{.client_deadline = *deadline,
                         .cancellation = answer.responder().cancellation(),
                         .request_id = request.request_id,
                         .principal = request.principal,
                         .record = answer.record(),
                         .trace = answer.trace()};
  auto shared = std::make_shared<http::HttpRequest>(std::move(request));
  const bool queued = runner.executor->Submit([shared, answer, work = std::move(work),
                                               context = std::move(context), errors] {
    if (answer.responder().cancelled()) {
      answer.Respond(ErrorResponseIn(
          errors, absl::CancelledError("the client closed its connection before the "
                                       "request was processed")));
      return;
    }
    if (context.client_deadline <= absl::Now()) {
      answer.Respond(ErrorResponseIn(
          errors, absl::DeadlineExceededError(
                      "the request's deadline (X-Server-Timeout) passed before it was processed")));
      return;
    }
    ScopedPredictContext scope(context);
    const ScopedLogFields log_fields({{"requestId", context.request_id}});
    http::HttpResponse response;
    try {
      response = work(*shared);
    } catch (...) {
      // A decoder or service bug on hostile input: this request fails, the server serves on.
      response = http::ExceptionResponse("predict executor", *shared);
    }
    answer.Respond(std::move(response));
  });
  if (!queued) {
    absl::Status full =
        absl::ResourceExhaustedError("the server is overloaded (predict queue full); retry later");
    http::SetRetryAfterSeconds(full, 1);
    if (runner.metrics != nullptr) runner.metrics->Shed("predict_queue_full");
    answer.Respond(ErrorResponseIn(errors, full));
  }
}

http::Handler OffloadedHandler(const PredictRunner& runner, PredictProtocol protocol,
                               BlockingWork work, ErrorShape errors) {
  return [runner, protocol, work = std::move(work), errors](http::HttpRequest&& request,
                                                            http::Responder responder) {
    Offload(runner, protocol, std::move(request), std::move(responder), work, errors);
  };
}

}  // namespace tessera::serving
