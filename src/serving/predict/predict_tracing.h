// Traces of predict requests (W3C traceparent in, OTLP spans out: common/tracing/). A predict
// continues the trace its client sent (or starts one) with four kinds of span:
//   predict <protocol>  (server)  the whole request in the frontend, from arrival to answer;
//   replica <id>        (client)  each call to a replica, a child of it (two on a retry);
//   queue, preprocess, inference  children of the replica call, from the replica's own
//                       Server-Timing durations, placed back to back so that inference ends when
//                       the replica's answer arrived (the replica exports nothing itself).
// The replica gets the trace as its own traceparent header. Spans are exported only when the
// trace is sampled: the client's flag when it sent one, else whether an exporter is configured.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/tracing/span_exporter.h"
#include "common/tracing/trace_context.h"
#include "control/replica_client.h"
#include "serving/predict/predict_context.h"

namespace tessera::serving {

// The frontend span of one request: started when it arrives, exported when it is answered.
class PredictSpan {
 public:
  // `traceparent`: the request's header (empty or invalid: a new trace); `exporter` may be null.
  PredictSpan(tracing::SpanExporter* exporter, std::string_view traceparent, std::string name);
  // The context the PredictionService continues (trace id, this span's id, sampled).
  const tracing::TraceContext& context() const { return context_; }
  // Exports the span (when sampled) with the request's outcome.
  void End(const PredictRecord& record, int http_status, const std::string& request_id) const;

 private:
  tracing::SpanExporter* exporter_;
  std::string parent_span_id_;
  std::string name_;
  tracing::TraceContext context_;
  absl::Time start_;
};

// One replica call of a traced request: its traceparent for the replica, and its spans.
class ReplicaCallSpan {
 public:
  ReplicaCallSpan(tracing::SpanExporter* exporter, const tracing::TraceContext& request);
  std::string traceparent() const;  // "" when the request has no trace
  void End(const std::string& replica_id, const control::ReplicaTimings& timings,
           const absl::Status& status) const;

 private:
  tracing::SpanExporter* exporter_;
  tracing::TraceContext request_;
  std::string span_id_;
  absl::Time start_;
};

}  // namespace tessera::serving
