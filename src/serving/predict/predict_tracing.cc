#include "serving/predict/predict_tracing.h"

#include <utility>

namespace tessera::serving {

PredictSpan::PredictSpan(tracing::SpanExporter* exporter, std::string_view traceparent,
                         std::string name)
    : exporter_(exporter), name_(std::move(name)), start_(absl::Now()) {
  std::optional<tracing::TraceContext> parent = tracing::ParseTraceparent(traceparent);
  if (parent.has_value()) {
    parent_span_id_ = parent->span_id;
    context_ = {.trace_id = parent->trace_id,
                .span_id = tracing::NewSpanId(),
                .sampled = parent->sampled && exporter_ != nullptr};
  } else {
    context_ = {.trace_id = tracing::NewTraceId(),
                .span_id = tracing::NewSpanId(),
                .sampled = exporter_ != nullptr};
  }
}

void PredictSpan::End(const PredictRecord& record, int http_status,
                      const std::string& request_id) const {
  if (!context_.sampled) return;
  tracing::Span span{.trace_id = context_.trace_id,
                     .span_id = context_.span_id,
                     .parent_span_id = parent_span_id_,
                     .name = name_,
                     .kind = tracing::SpanKind::kServer,
                     .start = start_,
                     .end = absl::Now()};
  span.attributes = {{"http.response.status_code", std::to_string(http_status)},
                     {"tessera.request_id", request_id}};
  if (!record.endpoint.empty()) {
    span.attributes.emplace_back("tessera.endpoint", record.endpoint);
    span.attributes.emplace_back("tessera.deployed_model", record.deployed_model_id);
    span.attributes.emplace_back("tessera.model", record.model);
    span.attributes.emplace_back("tessera.model_version", record.model_version_id);
  }
  // OpenTelemetry's HTTP convention: a server span is an error for a 5xx, not a client's 4xx.
  span.error = http_status >= 500;
  if (span.error) span.error_message = "HTTP " + std::to_string(http_status);
  exporter_->Export(std::move(span));
}

ReplicaCallSpan::ReplicaCallSpan(tracing::SpanExporter* exporter,
                                 const tracing::TraceContext& request)
    : exporter_(exporter),
      request_(request),
      span_id_(request.trace_id.empty() ? "" : tracing::NewSpanId()),
      start_(absl::Now()) {}

std::string ReplicaCallSpan::traceparent() const {
  if (request_.trace_id.empty()) return "";
  return tracing::FormatTraceparent(
      {.trace_id = request_.trace_id, .span_id = span_id_, .sampled = request_.sampled});
}

void ReplicaCallSpan::End(const std::string& replica_id, const control::ReplicaTimings& timings,
                          const absl::Status& status) const {
  if (exporter_ == nullptr || !request_.sampled || request_.trace_id.empty()) return;
  const absl::Time end = absl::Now();
  tracing::Span call{.trace_id = request_.trace_id,
                     .span_id = span_id_,
                     .parent_span_id = request_.span_id,
                     .name = "replica " + replica_id,
                     .kind = tracing::SpanKind::kClient,
                     .start = start_,
                     .end = end,
                     .attributes = {{"tessera.replica", replica_id}},
                     .error = !status.ok(),
                     .error_message = std::string(status.message())};
  exporter_->Export(std::move(call));
  if (!status.ok() || !timings.reported) return;
  // Back to back, ending when the answer arrived; never before the call started.
  absl::Time stage_end = end;
  for (const auto& [name, duration] :
       {std::pair<const char*, absl::Duration>{"inference", timings.inference},
        {"preprocess", timings.preprocess},
        {"queue", timings.queue}}) {
    const absl::Time stage_start = std::max(start_, stage_end - duration);
    exporter_->Export(tracing::Span{.trace_id = request_.trace_id,
                                    .span_id = tracing::NewSpanId(),
                                    .parent_span_id = span_id_,
                                    .name = name,
                                    .kind = tracing::SpanKind::kInternal,
                                    .start = stage_start,
                                    .end = stage_end});
    stage_end = stage_start;
  }
}

}  // namespace tessera::serving
