#include "serving/grpc/kserve_grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "common/current_exception.h"
#include "common/http/google_error.h"
#include "common/http/request_id.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "serving/front_door/front_door.h"
#include "serving/grpc/grpc_cancellation_watcher.h"
#include "serving/grpc/kserve_v2.grpc.pb.h"
#include "serving/predict/classification.h"
#include "serving/predict/kserve_v2.h"
#include "serving/predict/predict_context.h"
#include "serving/predict/predict_tracing.h"
#include "spdlog/spdlog.h"

namespace tessera::serving {
namespace {

// A channel argument in milliseconds: gRPC takes an int, and 0 or less would mean "never".
int ChannelMilliseconds(absl::Duration d) {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, std::numeric_limits<int>::max()));
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// The same, with a rate limit's or a full queue's Retry-After as "retry-after" trailing metadata
// (what the REST frontends send as the header).
grpc::Status ToGrpc(const absl::Status& status, grpc::ServerContext* context) {
  if (const std::optional<int> retry_after = http::RetryAfterSeconds(status)) {
    context->AddTrailingMetadata("retry-after", std::to_string(*retry_after));
  }
  return ToGrpc(status);
}

// An integer request parameter (int64, uint64 or an integral double), nullopt when absent.
absl::StatusOr<std::optional<int64_t>> IntParameter(
    const google::protobuf::Map<std::string, inference::InferParameter>& parameters,
    const std::string& name) {
  auto it = parameters.find(name);
  if (it == parameters.end()) return std::nullopt;
  const inference::InferParameter& p = it->second;
  switch (p.parameter_choice_case()) {
    case inference::InferParameter::kInt64Param:
      return p.int64_param();
    case inference::InferParameter::kUint64Param:
      if (p.uint64_param() <= uint64_t{INT64_MAX}) return static_cast<int64_t>(p.uint64_param());
      break;
    default:
      break;
  }
  return absl::InvalidArgumentError(fmt::format("parameter {} must be an integer", name));
}

absl::StatusOr<std::vector<std::string>> Images(const inference::ModelInferRequest& request,
                                                size_t count) {
  const auto& input = request.inputs(0);
  if (request.raw_input_contents_size() > 0) {
    if (request.raw_input_contents_size() != 1) {
      return absl::InvalidArgumentError(fmt::format("raw_input_contents has {} entries for 1 input",
                                                    request.raw_input_contents_size()));
    }
    return kserve::SplitBytesTensor(request.raw_input_contents(0), count);
  }
  const auto& bytes = input.contents().bytes_contents();
  if (static_cast<size_t>(bytes.size()) != count) {
    return absl::InvalidArgumentError(
        fmt::format("input \"{}\" holds {} elements in contents.bytes_contents; its shape says {}",
                    input.name(), bytes.size(), count));
  }
  return std::vector<std::string>(bytes.begin(), bytes.end());
}

// The call's id: the client's "x-request-id" metadata when short and printable, else a fresh one
// (as the REST frontends do, common/http/request_id.h). Sent back in the trailing metadata.
std::string CallRequestId(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("x-request-id");
  if (it != metadata.end()) {
    const std::string_view sent(it->second.data(), it->second.size());
    if (http::IsAcceptableRequestId(sent)) return std::string(sent);
  }
  return http::NewRequestId();
}

// The values of one metadata key (gRPC lowercases the keys).
std::vector<std::string> MetadataValues(const grpc::ServerContext& context, const char* key) {
  std::vector<std::string> out;
  const auto range = context.client_metadata().equal_range(key);
  for (auto it = range.first; it != range.second; ++it) {
    out.emplace_back(it->second.data(), it->second.size());
  }
  return out;
}

// What the body of a guarded method gets.
struct Caller {
  std::string request_id;
  std::shared_ptr<const Principal> principal;  // null on public methods
};

// Counts one ModelInfer call (predict_metrics.h) as the REST frontends count theirs: once, by
// the HTTP status of its error; a call that throws counts as 500 when the guard unwinds.
class CountedCall {
 public:
  CountedCall(PredictMetrics* metrics, tracing::SpanExporter* spans,
              std::shared_ptr<PredictRecord> record, std::string_view traceparent,
              std::string request_id)
      : metrics_(metrics),
        record_(std::move(record)),
        arrived_(std::chrono::steady_clock::now()),
        span_(spans, traceparent, "predict kserve_v2_grpc"),
        request_id_(std::move(request_id)) {
    if (metrics_ != nullptr) metrics_->Started(PredictProtocol::kKServeGrpc);
  }
  const tracing::TraceContext& trace() const { return span_.context(); }
  ~CountedCall() { Finish(absl::InternalError("the call ended by an exception")); }
  CountedCall(const CountedCall&) = delete;
  CountedCall& operator=(const CountedCall&) = delete;
  void Finish(const absl::Status& status) {
    if (finished_) return;
    finished_ = true;
    const int http_status = http::HttpStatusFromCode(status.code());
    span_.End(*record_, http_status, request_id_);
    if (metrics_ == nullptr) return;
    metrics_->Finished(PredictProtocol::kKServeGrpc, *record_, http_status,
                       absl::FromChrono(std::chrono::steady_clock::now() - arrived_));
  }

 private:
  PredictMetrics* const metrics_;
  const std::shared_ptr<PredictRecord> record_;
  const std::chrono::steady_clock::time_point arrived_;
  const PredictSpan span_;
  const std::string request_id_;
  bool finished_ = false;
};

class Service final : public inference::GRPCInferenceService::Service {
 public:
  Service(PredictionService* predictions, const ModelResolver* resolver, FrontDoor* door,
          PredictMetrics* metrics, tracing::SpanExporter* spans,
          std::function<void(std::string_view)> before_call)
      : predictions_(predictions),
        resolver_(resolver),
        door_(door),
        metrics_(metrics),
        spans_(spans),
        before_call_(std::move(before_call)) {}

  grpc::Status ServerLive(grpc::ServerContext* context, const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* response) override {
    return Guarded(context, "ServerLive", kserve::kProbeAccess, "", [&](const Caller&) {
      response->set_live(true);
      return grpc::Status::OK;
    });
  }
  grpc::Status ServerReady(grpc::ServerContext* context, const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* response) override {
    return Guarded(context, "ServerReady", kserve::kProbeAccess, "", [&](const Caller&) {
      response->set_ready(true);
      return grpc::Status::OK;
    });
  }
  grpc::Status ServerMetadata(grpc::ServerContext* context,
                              const inference::ServerMetadataRequest*,
                              inference::ServerMetadataResponse* response) override {
    return Guarded(context, "ServerMetadata", kserve::kServerMetadataAccess, "",
                   [&](const Caller&) {
                     response->set_name("tessera");
                     response->set_version(TESSERA_VERSION);
                     return grpc::Status::OK;
                   });
  }
  grpc::Status ModelReady(grpc::ServerContext* context, const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override {
    return Guarded(context, "ModelReady", kserve::kModelMetadataAccess, request->name(),
                   [&](const Caller& c) {
                     absl::StatusOr<ResolvedModel> model =
                         Resolve(request->name(), request->version(), c.principal.get());
                     if (!model.ok()) return ToGrpc(model.status());
                     response->set_ready(model->version.ready_replicas > 0);
                     return grpc::Status::OK;
                   });
  }
  grpc::Status ModelMetadata(grpc::ServerContext* context,
                             const inference::ModelMetadataRequest* request,
                             inference::ModelMetadataResponse* response) override {
    return Guarded(context, "ModelMetadata", kserve::kModelMetadataAccess, request->name(),
                   [&](const Caller& c) { return Metadata(request, response, c); });
  }
  grpc::Status ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override {
    return Guarded(context, "ModelInfer", kserve::kInferAccess, request->model_name(),
                   [&](const Caller& c) {
                     // The client's gRPC deadline is the request's deadline all the way into the
                     // replica's batch queue (predict_context.h), as X-Server-Timeout is on REST.
                     // Its cancellation (the client cancelled or left) too: the replica drops it
                     // unread.
                     PredictContext predict;
                     if (context->deadline() != std::chrono::system_clock::time_point::max()) {
                       predict.client_deadline = absl::FromChrono(context->deadline());
                     }
                     const std::unique_ptr<GrpcCancellationWatcher::Watch> watch =
                         cancellations_.Start(context);
                     predict.cancellation = watch->token();
                     predict.request_id = c.request_id;
                     predict.principal = c.principal;
                     predict.record = std::make_shared<PredictRecord>();
                     const std::vector<std::string> traceparent =
                         MetadataValues(*context, "traceparent");
                     CountedCall counted(metrics_, spans_, predict.record,
                                         traceparent.size() == 1 ? traceparent[0] : "",
                                         c.request_id);
                     predict.trace = counted.trace();
                     ScopedPredictContext scope(std::move(predict));
                     const absl::Status status = Infer(*request, *response);
                     counted.Finish(status);
                     return ToGrpc(status, context);
                   });
  }

 private:
  // Runs one method through the front door (its key, role, scope and rate limit; refusals go to
  // the audit log), and so that no exception, of any type, leaves it: gRPC's sync server would
  // terminate the process. The failure is answered INTERNAL naming the request id, which is
  // logged with it and sent back in the trailing metadata of every call.
  template <class Method>
  grpc::Status Guarded(grpc::ServerContext* context, std::string_view method,
                       const RouteAccess& access, const std::string& resource, Method&& body) {
    Caller caller{.request_id = CallRequestId(*context), .principal = nullptr};
    context->AddTrailingMetadata("x-request-id", caller.request_id);
    // What the method logs names the call, as an HTTP request's lines do.
    const ScopedLogFields log_fields(std::vector<LogField>{{"requestId", caller.request_id}});
    try {
      if (before_call_) before_call_(method);
      if (access.action != auth::Action::kPublic) {
        absl::StatusOr<std::optional<std::string>> key =
            door_->auth_enabled() ? PresentedKey(MetadataValues(*context, "authorization"),
                                                 MetadataValues(*context, "x-api-key"))
                                  : absl::StatusOr<std::optional<std::string>>(std::nullopt);
        FrontDoor::Admission admission = key.ok() ? door_->Admit(access, auth::Target{}, *key)
                                                  : FrontDoor::Admission{key.status(), nullptr};
        if (!admission.status.ok()) {
          const std::string peer = context->peer();
          door_->Audit(access, admission.principal.get(),
                       {.protocol = "grpc",
                        .method = method,
                        .resource = resource,
                        .request_id = caller.request_id,
                        .remote = peer},
                       http::HttpStatusFromCode(admission.status.code()), admission.status.code());
          return ToGrpc(admission.status, context);
        }
        caller.principal = std::move(admission.principal);
      }
      return body(caller);
    } catch (...) {
      const std::string what = CurrentExceptionMessage();
      spdlog::error("KServe gRPC {}: request {} threw {}", method, caller.request_id, what);
      return grpc::Status(
          grpc::StatusCode::INTERNAL,
          fmt::format("internal error (request id {}): {}", caller.request_id, what));
    }
  }

  grpc::Status Metadata(const inference::ModelMetadataRequest* request,
                        inference::ModelMetadataResponse* response, const Caller& caller) {
    absl::StatusOr<ResolvedModel> model =
        Resolve(request->name(), request->version(), caller.principal.get());
    if (!model.ok()) return ToGrpc(model.status());
    response->set_name(request->name());
    for (const DeployedVersion& v : model->versions) response->add_versions(v.version_id);
    response->set_platform(kserve::kPlatform);
    auto* input = response->add_inputs();
    input->set_name(model->version.input_key);
    input->set_datatype("BYTES");
    input->add_shape(-1);
    for (auto [name, datatype] :
         {std::pair{kserve::kLabelOutput, "BYTES"}, std::pair{kserve::kConfidenceOutput, "FP32"}}) {
      auto* output = response->add_outputs();
      output->set_name(name);
      output->set_datatype(datatype);
      output->add_shape(-1);
      output->add_shape(-1);
    }
    return grpc::Status::OK;
  }

  absl::StatusOr<ResolvedModel> Resolve(const std::string& name, const std::string& version,
                                        const Principal* caller) {
    return resolver_->Resolve(*predictions_->Snapshot(), name, version, /*label=*/"", caller);
  }

  absl::Status Infer(const inference::ModelInferRequest& request,
                     inference::ModelInferResponse& response) {
    ASSIGN_OR_RETURN(ResolvedModel model, Resolve(request.model_name(), request.model_version(),
                                                  CurrentPredictContext().principal.get()));
    if (request.inputs_size() != 1) {
      return absl::InvalidArgumentError(
          fmt::format("the request has {} inputs; the model has one, \"{}\" (BYTES)",
                      request.inputs_size(), model.version.input_key));
    }
    const auto& input = request.inputs(0);
    kserve::InputSpec spec{.name = input.name(), .datatype = input.datatype(), .shape = {}};
    spec.shape.assign(input.shape().begin(), input.shape().end());
    ASSIGN_OR_RETURN(size_t count, kserve::CheckImageInput(spec, model.version.input_key));
    ASSIGN_OR_RETURN(std::vector<std::string> images, Images(request, count));

    ClassifyParameters parameters;
    ASSIGN_OR_RETURN(std::optional<int64_t> top_k, IntParameter(request.parameters(), "top_k"));
    if (top_k) {
      ASSIGN_OR_RETURN(parameters.top_k, kserve::TopKFrom(*top_k));
    }
    if (request.parameters().contains("confidence_threshold")) {
      return absl::InvalidArgumentError(
          "parameter confidence_threshold is not supported by KServe v2 (rows would be ragged); "
          "use top_k");
    }
    std::vector<std::string> names;
    for (const auto& output : request.outputs()) {
      RETURN_IF_ERROR(kserve::CheckOutputName(output.name()));
      names.push_back(output.name());
    }
    if (names.empty()) names = {kserve::kLabelOutput, kserve::kConfidenceOutput};

    ASSIGN_OR_RETURN(std::vector<Classification> rows,
                     ClassifyImages(*predictions_, model.model_id, model.version.version_id, images,
                                    parameters));
    ASSIGN_OR_RETURN(kserve::Outputs outputs, kserve::OutputsFrom(rows));
    response.set_model_name(request.model_name());
    response.set_model_version(model.version.version_id);
    response.set_id(request.id());
    for (const std::string& name : names) {
      const bool is_label = name == kserve::kLabelOutput;
      auto* tensor = response.add_outputs();
      tensor->set_name(name);
      tensor->set_datatype(is_label ? "BYTES" : "FP32");
      for (int64_t dim : outputs.shape) tensor->add_shape(dim);
      response.add_raw_output_contents(is_label ? kserve::JoinBytesTensor(outputs.labels)
                                                : kserve::Fp32Bytes(outputs.confidences));
    }
    return absl::OkStatus();
  }

  PredictionService* predictions_;
  const ModelResolver* resolver_;
  FrontDoor* door_;
  PredictMetrics* metrics_;       // optional
  tracing::SpanExporter* spans_;  // optional
  const std::function<void(std::string_view)> before_call_;
  GrpcCancellationWatcher cancellations_;
};

}  // namespace

struct KserveGrpcServer::Impl {
  explicit Impl(const Options& options)
      : service(options.predictions, options.resolver, options.door, options.metrics, options.spans,
                options.before_call_for_test) {}
  Service service;
  std::unique_ptr<grpc::Server> server;
  bool shut_down = false;
};

std::vector<KserveGrpcServer::MethodAccess> KserveGrpcServer::Methods() {
  return {{"ServerLive", kserve::kProbeAccess},
          {"ServerReady", kserve::kProbeAccess},
          {"ServerMetadata", kserve::kServerMetadataAccess},
          {"ModelReady", kserve::kModelMetadataAccess},
          {"ModelMetadata", kserve::kModelMetadataAccess},
          {"ModelInfer", kserve::kInferAccess}};
}

std::string KserveGrpcServer::ServiceName() {
  return inference::GRPCInferenceService::service_full_name();
}

KserveGrpcServer::KserveGrpcServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

KserveGrpcServer::~KserveGrpcServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<KserveGrpcServer>> KserveGrpcServer::Start(const Options& options) {
  if (options.predictions == nullptr || options.resolver == nullptr || options.door == nullptr) {
    return absl::InvalidArgumentError(
        "KserveGrpcServer: predictions, resolver and door are required");
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_certificate_chain.empty() || !options.tls_private_key.empty()) {
    if (options.tls_certificate_chain.empty() || options.tls_private_key.empty()) {
      return absl::InvalidArgumentError("KserveGrpcServer: TLS needs both a certificate and a key");
    }
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({options.tls_private_key, options.tls_certificate_chain});
    credentials = grpc::SslServerCredentials(ssl);
  }
  auto impl = std::make_unique<Impl>(options);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             ChannelMilliseconds(options.handshake_timeout));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             ChannelMilliseconds(options.idle_timeout));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  builder.RegisterService(&impl->service);
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || port == 0) {
    return absl::UnavailableError(fmt::format(
        "cannot serve KServe v2 gRPC on {} (address in use or invalid)", options.listen));
  }
  return std::unique_ptr<KserveGrpcServer>(new KserveGrpcServer(std::move(impl), port));
}

void KserveGrpcServer::Shutdown(absl::Duration deadline) {
  if (impl_ == nullptr || impl_->shut_down) return;
  impl_->shut_down = true;
  impl_->server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoSeconds(deadline));
  impl_->server->Wait();
}

}  // namespace tessera::serving
