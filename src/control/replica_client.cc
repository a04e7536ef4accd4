#include "control/replica_client.h"

#include "common/http/google_error.h"
#include "common/http/request_deadline.h"
#include "common/http/request_id.h"
#include "common/http/server_timing.h"
#include "common/status_macros.h"
#include "common/untrusted_json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::control {
namespace {

using nlohmann::json;

// A replica's integer field; 0 when absent, not a number, or a float outside int64 (converting
// one would be undefined behaviour).
int64_t IntField(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_number_float()) return 0;
  const double value = it->get<double>();
  return value >= -0x1p63 && value < 0x1p63 ? static_cast<int64_t>(value) : 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicaClient>> ReplicaClient::Create(const Options& options) {
  if (options.address.empty()) return absl::InvalidArgumentError("no replica address given");
  std::string base_url = options.address;
  if (base_url.front() == '/') base_url = "unix:" + base_url;
  http::HttpClient::Options client_options;
  client_options.base_url = base_url;
  client_options.connect_timeout = options.connect_timeout;
  client_options.user_agent = "tessera-serve";
  ASSIGN_OR_RETURN(auto client, http::HttpClient::Create(client_options));
  return std::unique_ptr<ReplicaClient>(new ReplicaClient(std::move(base_url), std::move(client)));
}

absl::StatusOr<std::unique_ptr<ReplicaClient>> ReplicaClient::Create(
    const std::string& socket_path) {
  return Create(Options{.address = socket_path});
}

absl::StatusOr<ReplicaHealth> ReplicaClient::Health(absl::Duration timeout) {
  http::HttpRequest request;
  request.method = "GET";
  request.target = "/health";
  ASSIGN_OR_RETURN(http::HttpResponse response, client_->Send(request, timeout));
  json body = ParseUntrustedJson(response.body, kPeerJsonLimits).value_or(json());
  if (!body.is_object() || !body.contains("state") || !body["state"].is_string()) {
    absl::Status status = http::StatusFromHttpResponse(response);
    if (!status.ok()) return status;
    return absl::InternalError(fmt::format("replica {}: /health answered without a state: {}",
                                           base_url_, response.body.substr(0, 200)));
  }
  ReplicaHealth health;
  health.state = body["state"].get<std::string>();
  health.ready = response.status == 200 && health.state == "READY";
  return health;
}

absl::StatusOr<ReplicaStatusInfo> ParseReplicaStatus(const std::string& text) {
  json body = ParseUntrustedJson(text, kPeerJsonLimits).value_or(json());
  if (!body.is_object() || !body.contains("state") || !body["state"].is_string()) {
    return absl::InvalidArgumentError(fmt::format("not a replica status: {}", text.substr(0, 200)));
  }
  ReplicaStatusInfo info;
  info.state = body["state"].get<std::string>();
  info.in_flight = IntField(body, "inFlight");
  info.queue_depth = IntField(body, "queueDepth");
  info.requests = IntField(body, "requests");
  info.failed_requests = IntField(body, "failedRequests");
  info.expired = IntField(body, "expired");
  info.cancelled = IntField(body, "cancelled");
  info.rejected = IntField(body, "rejected");
  info.queued_bytes = IntField(body, "queuedBytes");
  info.batches = IntField(body, "batches");
  info.rss_bytes = IntField(body, "rssBytes");
  info.pid = IntField(body, "pid");
  if (const auto h = body.find("batchSizeHistogram"); h != body.end() && h->is_object()) {
    for (const auto& [size, count] : h->items()) {
      if (!count.is_number()) continue;
      try {
        info.batch_size_histogram[std::stoi(size)] = count.get<int64_t>();
      } catch (const std::exception&) {
        return absl::InvalidArgumentError(
            fmt::format("replica status: bad batch size \"{}\" in batchSizeHistogram", size));
      }
    }
  }
  if (const auto m = body.find("model"); m != body.end() && m->is_object()) {
    if (const auto a = m->find("architecture"); a != m->end() && a->is_string()) {
      info.architecture = a->get<std::string>();
    }
    for (auto [field, out] : {std::pair{"precision", &info.precision}, std::pair{"isa", &info.isa},
                              std::pair{"gemmKernel", &info.gemm_kernel},
                              std::pair{"attentionKernel", &info.attention_kernel}}) {
      if (const auto v = m->find(field); v != m->end() && v->is_string()) {
        *out = v->get<std::string>().substr(0, 128);  // a replica's word, bounded
      }
    }
    if (const auto a = m->find("precisionAgreement"); a != m->end() && a->is_object()) {
      info.precision_agreement.images = IntField(*a, "images");
      info.precision_agreement.agreeing = IntField(*a, "agreeing");
      if (const auto d = a->find("maxConfidenceDifference"); d != a->end() && d->is_number()) {
        info.precision_agreement.max_confidence_difference = d->get<double>();
      }
      if (const auto s = a->find("source"); s != a->end() && s->is_string()) {
        info.precision_agreement.source = s->get<std::string>().substr(0, 128);
      }
    }
    info.num_labels = static_cast<int>(IntField(*m, "numLabels"));
    info.weight_bytes = IntField(*m, "weightBytes");
    info.shared_weight_bytes = IntField(*m, "sharedWeightBytes");
    if (const auto s = m->find("imageSize"); s != m->end() && s->is_array() && s->size() == 2 &&
                                             (*s)[0].is_number() && (*s)[1].is_number()) {
      info.image_height = (*s)[0].get<int>();
      info.image_width = (*s)[1].get<int>();
    }
  }
  return info;
}

absl::StatusOr<ReplicaStatusInfo> ReplicaClient::Status(absl::Duration timeout) {
  http::HttpRequest request;
  request.method = "GET";
  request.target = "/status";
  ASSIGN_OR_RETURN(http::HttpResponse response, client_->Send(request, timeout));
  RETURN_IF_ERROR(http::StatusFromHttpResponse(response));
  return ParseReplicaStatus(response.body);
}

absl::StatusOr<std::string> ReplicaClient::Post(std::string target, std::string_view body,
                                                const std::string& content_type,
                                                const CallOptions& call) {
  http::HttpRequest request;
  request.method = "POST";
  request.target = std::move(target);
  request.headers.Set("Content-Type", content_type);
  request.headers.Set(http::kServerTimeoutHeader, http::ServerTimeoutValue(call.timeout));
  if (!call.traceparent.empty()) request.headers.Set("traceparent", call.traceparent);
  if (http::IsAcceptableRequestId(call.request_id)) {
    request.headers.Set(http::kRequestIdHeader, call.request_id);  // else the replica makes one
  }
  ASSIGN_OR_RETURN(http::HttpResponse response,
                   client_->Send(request, body, call.timeout, call.cancel));
  RETURN_IF_ERROR(http::StatusFromHttpResponse(response));
  if (call.timings != nullptr) {
    const std::map<std::string, absl::Duration> timings =
        http::ParseServerTiming(response.headers.GetOr(http::kServerTimingHeader, ""));
    const auto queue = timings.find("queue"), preprocess = timings.find("preprocess"),
               inference = timings.find("inference");
    if (queue != timings.end() && preprocess != timings.end() && inference != timings.end()) {
      *call.timings = ReplicaTimings{.reported = true,
                                     .queue = queue->second,
                                     .preprocess = preprocess->second,
                                     .inference = inference->second};
    }
  }
  return std::move(response.body);
}

absl::StatusOr<std::string> ReplicaClient::Predict(std::string_view json_body,
                                                   absl::Duration timeout) {
  return Predict(json_body, CallOptions{.timeout = timeout});
}

absl::StatusOr<std::string> ReplicaClient::PredictBytes(std::string_view image_bytes, int top_k,
                                                        absl::Duration timeout) {
  return PredictBytes(image_bytes, top_k, CallOptions{.timeout = timeout});
}

absl::StatusOr<std::string> ReplicaClient::Predict(std::string_view json_body,
                                                   const CallOptions& call) {
  return Post("/predict", json_body, "application/json", call);
}

absl::StatusOr<std::string> ReplicaClient::PredictBytes(std::string_view image_bytes, int top_k,
                                                        const CallOptions& call) {
  return Post(fmt::format("/predict_bytes?top_k={}", top_k), image_bytes,
              "application/octet-stream", call);
}

}  // namespace tessera::control
