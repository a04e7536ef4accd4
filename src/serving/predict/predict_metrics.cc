#include "serving/predict/predict_metrics.h"

#include <vector>

#include "common/status_macros.h"

namespace tessera::serving {
namespace {

// 0.5 ms to ~65 s, each bound sqrt(2) times the last: Prometheus' histogram_quantile interpolates
// inside a bucket, so a quantile is off by at most a bucket's width (41%), usually much less.
std::vector<double> LatencyBuckets() { return metrics::ExponentialBuckets(0.0005, 1.41421356, 35); }

const std::vector<std::string> kDeployedModelLabels = {"endpoint", "deployed_model", "model",
                                                       "model_version"};

std::vector<std::string> With(std::vector<std::string> labels, std::string first,
                              std::string last = "") {
  labels.insert(labels.begin(), std::move(first));
  if (!last.empty()) labels.push_back(std::move(last));
  return labels;
}

metrics::LabelValues DeployedModelValues(const PredictRecord& r) {
  return {r.endpoint, r.deployed_model_id, r.model, r.model_version_id};
}

}  // namespace

std::string_view PredictProtocolName(PredictProtocol protocol) {
  switch (protocol) {
    case PredictProtocol::kVertex:
      return "vertex";
    case PredictProtocol::kTfServing:
      return "tfserving";
    case PredictProtocol::kKServeRest:
      return "kserve_v2_rest";
    case PredictProtocol::kKServeGrpc:
      return "kserve_v2_grpc";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<PredictMetrics>> PredictMetrics::Create(
    metrics::MetricsRegistry& registry) {
  std::unique_ptr<PredictMetrics> m(new PredictMetrics());
  ASSIGN_OR_RETURN(m->requests_,
                   registry.AddCounter("tessera_predict_requests_total",
                                       "Predict requests answered, by HTTP status code.",
                                       With(kDeployedModelLabels, "protocol", "code")));
  ASSIGN_OR_RETURN(m->latency_,
                   registry.AddHistogram("tessera_predict_latency_seconds",
                                         "Predict latency from arrival to answer, every status.",
                                         With(kDeployedModelLabels, "protocol"), LatencyBuckets()));
  ASSIGN_OR_RETURN(m->queue_,
                   registry.AddHistogram("tessera_predict_queue_seconds",
                                         "Time a predict waited in its replica's batch queue.",
                                         kDeployedModelLabels, LatencyBuckets()));
  ASSIGN_OR_RETURN(
      m->preprocess_,
      registry.AddHistogram("tessera_predict_preprocess_seconds",
                            "Time a predict's images took to decode and resize in the replica.",
                            kDeployedModelLabels, LatencyBuckets()));
  ASSIGN_OR_RETURN(m->inference_,
                   registry.AddHistogram("tessera_predict_inference_seconds",
                                         "The forward pass of the batch that answered a predict.",
                                         kDeployedModelLabels, LatencyBuckets()));
  ASSIGN_OR_RETURN(
      m->in_flight_,
      registry.AddGauge("tessera_predict_in_flight",
                        "Predict requests received and not yet answered.", {"protocol"}));
  ASSIGN_OR_RETURN(m->shed_, registry.AddCounter("tessera_load_shed_requests_total",
                                                 "Requests refused at once because the server was "
                                                 "overloaded, by reason.",
                                                 {"reason"}));
  return m;
}

void PredictMetrics::Started(PredictProtocol protocol) {
  in_flight_->With({std::string(PredictProtocolName(protocol))})->Add(1);
}

void PredictMetrics::Finished(PredictProtocol protocol, const PredictRecord& record,
                              int http_status, absl::Duration latency) {
  const std::string protocol_name(PredictProtocolName(protocol));
  in_flight_->With({protocol_name})->Add(-1);
  requests_->With(With(DeployedModelValues(record), protocol_name, std::to_string(http_status)))
      ->Increment();
  latency_->With(With(DeployedModelValues(record), protocol_name))
      ->Observe(absl::ToDoubleSeconds(latency));
  if (http_status == 200 && record.timings.reported) {
    const metrics::LabelValues labels = DeployedModelValues(record);
    queue_->With(labels)->Observe(absl::ToDoubleSeconds(record.timings.queue));
    preprocess_->With(labels)->Observe(absl::ToDoubleSeconds(record.timings.preprocess));
    inference_->With(labels)->Observe(absl::ToDoubleSeconds(record.timings.inference));
  }
}

void PredictMetrics::Shed(std::string_view reason) {
  shed_->With({std::string(reason)})->Increment();
}

void PredictMetrics::RetainEndpoints(const std::set<std::string>& live) {
  // The endpoint label is the first deployed-model label; "" (unrouted requests) always stays.
  const auto gone = [&live](size_t index) {
    return [&live, index](const metrics::LabelValues& v) {
      return !v[index].empty() && live.count(v[index]) == 0;
    };
  };
  requests_->RemoveIf(gone(1));  // after "protocol"
  latency_->RemoveIf(gone(1));
  queue_->RemoveIf(gone(0));
  preprocess_->RemoveIf(gone(0));
  inference_->RemoveIf(gone(0));
}

}  // namespace tessera::serving
