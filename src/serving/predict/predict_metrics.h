// The prediction path's metrics (docs/operations.md lists them): every predict request that
// reaches a frontend is counted once, when it is answered, by protocol, endpoint, deployed model,
// model, version and HTTP status, with its end-to-end latency; the replica's own split of its time
// (queueing, preprocessing, inference, from its Server-Timing header) for those it answered; the
// requests in flight per protocol; requests shed because the server's predict queue was full.
//
// Labels come from the routing table (PredictRecord), never from the request, so a client cannot
// make series: a request for an endpoint that does not exist counts with endpoint="".
//
// Thread-safe.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "serving/predict/predict_context.h"

namespace tessera::serving {

enum class PredictProtocol { kVertex, kTfServing, kKServeRest, kKServeGrpc };
// "vertex", "tfserving", "kserve_v2_rest", "kserve_v2_grpc": the `protocol` label.
std::string_view PredictProtocolName(PredictProtocol protocol);

class PredictMetrics {
 public:
  static absl::StatusOr<std::unique_ptr<PredictMetrics>> Create(metrics::MetricsRegistry& registry);

  // A request entered a frontend (in flight until Finished).
  void Started(PredictProtocol protocol);
  // It was answered `http_status` after `latency` (from its arrival).
  void Finished(PredictProtocol protocol, const PredictRecord& record, int http_status,
                absl::Duration latency);
  // It was refused before running because the predict queue was full (also Finished: 429).
  void Shed(std::string_view reason);
  // Drops the series of endpoints not in `live` (deleted ones), so memory follows what exists.
  void RetainEndpoints(const std::set<std::string>& live);

 private:
  PredictMetrics() = default;

  metrics::CounterFamily* requests_ = nullptr;
  metrics::HistogramFamily* latency_ = nullptr;
  metrics::HistogramFamily* queue_ = nullptr;
  metrics::HistogramFamily* preprocess_ = nullptr;
  metrics::HistogramFamily* inference_ = nullptr;
  metrics::GaugeFamily* in_flight_ = nullptr;
  metrics::CounterFamily* shed_ = nullptr;
};

}  // namespace tessera::serving
