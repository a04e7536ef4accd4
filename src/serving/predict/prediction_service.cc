#include "serving/predict/prediction_service.h"

#include <algorithm>
#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "serving/predict/predict_context.h"
#include "serving/predict/predict_tracing.h"
#include "spdlog/spdlog.h"

namespace tessera::serving {
namespace {

// Picks again from a newer routing table at most this many times per attempt.
constexpr int kMaxFreshSnapshots = 3;

// Worth another replica: this one could not take the request (gone, draining, queue full).
bool Retryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsResourceExhausted(status);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PredictionService>> PredictionService::Create(
    const Options& options) {
  if (options.routing == nullptr || options.random == nullptr) {
    return absl::InvalidArgumentError("PredictionService: routing and random are required");
  }
  return std::unique_ptr<PredictionService>(new PredictionService(options));
}

absl::StatusOr<ReplicaReply> PredictionService::PredictEndpoint(
    const std::string& endpoint, const std::string& pinned_deployed_model_id,
    const ReplicaCall& call) {
  return Run(endpoint, "", "", PickOptions{.pinned_deployed_model_id = pinned_deployed_model_id},
             call);
}

absl::StatusOr<ReplicaReply> PredictionService::PredictModelVersion(
    const std::string& model_id, const std::string& model_version_id, const ReplicaCall& call) {
  // Only the endpoints the caller's key reaches (the resolver found the model among them).
  std::shared_ptr<const Principal> caller = CurrentPredictContext().principal;
  const auto reachable = [caller](const RoutedEndpoint& e) {
    return caller == nullptr || caller->CoversEndpoint(e.name);
  };
  // First among the endpoints whose rate limit has room, so a model deployed on several
  // endpoints is served by one that can take the request; when none has room, the pick below
  // finds a limited one and its limit answers (429 with Retry-After).
  auth::RateLimiter* limits = options_.endpoint_limits;
  if (limits != nullptr) {
    PickOptions with_room;
    with_room.allow_endpoint = [reachable, limits](const RoutedEndpoint& e) {
      const registry::RateLimit limit{.requests_per_second = e.rate_limit_rps,
                                      .burst = e.rate_limit_burst};
      return reachable(e) && (e.rate_limit_rps <= 0 ||
                              limits->Available(auth::LimitKind::kEndpoint, e.name, limit));
    };
    absl::StatusOr<ReplicaReply> reply =
        Run("", model_id, model_version_id, std::move(with_room), call);
    if (!absl::IsNotFound(reply.status())) return reply;
  }
  PickOptions pick;
  if (caller != nullptr) pick.allow_endpoint = reachable;
  return Run("", model_id, model_version_id, std::move(pick), call);
}

absl::StatusOr<Route> PredictionService::PickFrom(const RoutingTable& table,
                                                  const std::string& endpoint,
                                                  const std::string& model_id,
                                                  const std::string& model_version_id,
                                                  const PickOptions& pick) {
  if (endpoint.empty()) {
    return table.PickForModel(model_id, model_version_id, pick, *options_.random);
  }
  return table.PickForEndpoint(endpoint, pick, *options_.random);
}

absl::StatusOr<Route> PredictionService::Pick(const std::string& endpoint,
                                              const std::string& model_id,
                                              const std::string& model_version_id,
                                              const PickOptions& pick) {
  std::shared_ptr<const RoutingTable> table = options_.routing->Snapshot();
  absl::StatusOr<Route> route = PickFrom(*table, endpoint, model_id, model_version_id, pick);
  // The supervisor publishes a table without a replica before it drains it, so a pick that found
  // nothing to lease read a table that has since been replaced: the newer one decides. Bounded:
  // each retry needs a publish in between.
  for (int fresh = 0; !route.ok() && fresh < kMaxFreshSnapshots; ++fresh) {
    std::shared_ptr<const RoutingTable> newer = options_.routing->Snapshot();
    if (newer == table) break;
    table = std::move(newer);
    route = PickFrom(*table, endpoint, model_id, model_version_id, pick);
  }
  if (endpoint.empty()) return route;
  const std::shared_ptr<PredictRecord>& record = CurrentPredictContext().record;
  if (!route.ok() && record != nullptr && table->FindEndpoint(endpoint) != nullptr) {
    record->endpoint = endpoint;  // known, but nothing to serve it: its error counts there
  }
  if (absl::IsNotFound(route.status()) && options_.endpoints != nullptr) {
    // Created a moment ago and not routed yet: it has no deployed model either way.
    absl::StatusOr<registry::Endpoint> found = options_.endpoints->GetEndpoint(endpoint);
    if (found.ok()) {
      return absl::FailedPreconditionError(
          fmt::format("endpoint {} has no deployed model ready to serve", endpoint));
    }
    return absl::NotFoundError(fmt::format("Endpoint {} not found.", endpoint));
  }
  return route;
}

absl::StatusOr<std::shared_ptr<control::ReplicaClient>> PredictionService::ClientFor(
    const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = clients_.find(address);
  if (it != clients_.end()) return it->second;
  ASSIGN_OR_RETURN(std::unique_ptr<control::ReplicaClient> client,
                   control::ReplicaClient::Create(control::ReplicaClient::Options{
                       .address = address, .connect_timeout = absl::Seconds(2)}));
  std::shared_ptr<control::ReplicaClient> shared(std::move(client));
  clients_.emplace(address, shared);
  return shared;
}

absl::StatusOr<std::string> PredictionService::Call(const Route& route, const ReplicaCall& call,
                                                    absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError("the request's deadline passed before a replica answered");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<control::ReplicaClient> client,
                   ClientFor(route.replica().address));
  const PredictContext& context = CurrentPredictContext();
  const ReplicaCallSpan span(options_.spans, context.trace);
  control::ReplicaTimings timings;
  const control::ReplicaClient::CallOptions options{.timeout = left,
                                                    .cancel = context.cancellation.get(),
                                                    .request_id = context.request_id,
                                                    .timings = &timings,
                                                    .traceparent = span.traceparent()};
  absl::StatusOr<std::string> reply = absl::InternalError("unknown replica call");
  switch (call.kind) {
    case ReplicaCall::Kind::kPredictJson:
      reply = client->Predict(call.body, options);
      break;
    case ReplicaCall::Kind::kPredictBytes:
      reply = client->PredictBytes(call.body, call.top_k, options);
      break;
  }
  span.End(route.replica().replica_id, timings, reply.status());
  if (context.record != nullptr) context.record->timings = timings;
  // The call ended because the deadline did (the transport reports its own timer as a cancelled
  // or failed send): that is the client's 504, not a replica fault to retry or answer 503 for.
  if (!reply.ok() && !absl::IsDeadlineExceeded(reply.status()) && absl::Now() >= deadline &&
      !(options.cancel != nullptr && options.cancel->cancelled())) {
    return absl::DeadlineExceededError(
        fmt::format("the request's deadline passed before a replica answered ({})",
                    std::string(reply.status().message())));
  }
  return reply;
}

absl::StatusOr<ReplicaReply> PredictionService::Run(const std::string& endpoint,
                                                    const std::string& model_id,
                                                    const std::string& model_version_id,
                                                    PickOptions pick, const ReplicaCall& call) {
  const bool pinned = !pick.pinned_deployed_model_id.empty();
  // One deadline for both attempts: a retry never extends what the client was promised.
  const absl::Time start = absl::Now();
  const absl::Time client_deadline = CurrentPredictContext().client_deadline;
  absl::Status last_error;
  std::string failed_replica;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    absl::StatusOr<Route> route = Pick(endpoint, model_id, model_version_id, pick);
    if (!route.ok() && attempt == 2 && !pinned && !endpoint.empty() &&
        absl::IsInvalidArgument(route.status())) {
      // The deployed model of the first attempt left the endpoint meanwhile: follow the split.
      route = Pick(endpoint, model_id, model_version_id,
                   PickOptions{.exclude_replica_id = failed_replica});
    }
    if (!route.ok()) {
      if (attempt == 2) {
        spdlog::warn("predict: retry after \"{}\" found no other replica: {}",
                     last_error.ToString(), route.status().ToString());
        return last_error;
      }
      return route.status();
    }
    const RoutedDeployedModel& dm = route->deployed_model();
    if (const std::shared_ptr<PredictRecord>& record = CurrentPredictContext().record) {
      record->endpoint = route->endpoint().name;
      record->deployed_model_id = dm.id;
      record->model = dm.model;
      record->model_version_id = dm.model_version_id;
      record->payload_sampling_rate = route->endpoint().payload_sampling_rate;
      record->payload_store_images = route->endpoint().payload_store_images;
    }
    if (attempt == 1 && options_.endpoint_limits != nullptr &&
        route->endpoint().rate_limit_rps > 0) {
      // Counted once per request, on the endpoint that serves it (a retry is not a new request).
      absl::Status admitted = options_.endpoint_limits->Admit(
          auth::LimitKind::kEndpoint, route->endpoint().name,
          registry::RateLimit{.requests_per_second = route->endpoint().rate_limit_rps,
                              .burst = route->endpoint().rate_limit_burst});
      if (!admitted.ok()) {
        if (const std::shared_ptr<PredictRecord>& record = CurrentPredictContext().record) {
          record->endpoint_rate_limited = true;
        }
        return admitted;
      }
    }
    absl::Time deadline = std::min(client_deadline, start + options_.request_timeout);
    if (const absl::Duration t = route->endpoint().inference_timeout; t > absl::ZeroDuration()) {
      deadline = std::min(deadline, start + t);
    }
    absl::StatusOr<std::string> body = Call(*route, call, deadline);
    if (body.ok()) {
      ReplicaReply reply;
      reply.body = std::move(*body);
      reply.served_by = ServedBy{.endpoint = route->endpoint().name,
                                 .deployed_model_id = dm.id,
                                 .model = dm.model,
                                 .model_display_name = dm.model_display_name,
                                 .model_version_id = dm.model_version_id,
                                 .replica_id = route->replica().replica_id,
                                 .attempts = attempt};
      return reply;
    }
    if (!Retryable(body.status())) return body.status();
    last_error = body.status();
    failed_replica = route->replica().replica_id;
    spdlog::info("predict: replica {} failed ({}); attempt {} of 2", failed_replica,
                 body.status().ToString(), attempt);
    pick = route->RetryOptions();
  }
  return last_error;
}

}  // namespace tessera::serving
