// The data plane `tessera serve` runs: a Supervisor (replica processes, the DeploymentWaiter, the
// routing table), an AutoscalerLoop, the PredictionService and its routes (Vertex :predict and
// :rawPredict, TF Serving REST, KServe v2 REST, the replica status view) and the KServe v2 gRPC
// server.
//
// Construction order (see data_plane_wiring.h): CreateDataPlane runs before EndpointService exists,
// so waiter() is a forwarding waiter that reaches the Supervisor once Start() created it (a deploy
// cannot run before Start: the server does not listen yet). AddRoutes runs after deps.endpoints is
// set and creates the PredictionService.
//
// Tuning from the environment (operations knobs, documented in docs/data-plane.md):
//   TESSERA_AUTOSCALER_INTERVAL_MS          autoscaler period (default 5000)
//   TESSERA_AUTOSCALER_SCALE_DOWN_WINDOW_S  scale-down stabilization window (default 300)
//   TESSERA_AUTOSCALER_TARGET_IN_FLIGHT     in-flight + queued requests per replica (default 8)
//   TESSERA_REPLICA_DRAIN_TIMEOUT_S         SIGTERM grace of a draining replica (default 30)
#include "cli/data_plane_wiring.h"

#include <cstdlib>
#include <set>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "cli/environment.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "control/autoscaler_loop.h"
#include "control/random_source.h"
#include "control/replica_metrics.h"
#include "control/routing_table.h"
#include "control/supervisor.h"
#include "serving/grpc/kserve_grpc_server.h"
#include "serving/predict/kserve_v2_routes.h"
#include "serving/predict/model_resolver.h"
#include "serving/predict/predict_metrics.h"
#include "serving/predict/prediction_service.h"
#include "serving/predict/replica_status_routes.h"
#include "serving/predict/tf_serving_routes.h"
#include "serving/predict/vertex_predict_routes.h"
#include "serving/rest/blocking_executor.h"
#include "spdlog/spdlog.h"

namespace tessera::cli {
namespace {

// Forwards to the Supervisor once it exists.
class ForwardingWaiter final : public control::DeploymentWaiter {
 public:
  void Set(control::DeploymentWaiter* target) {
    absl::MutexLock lock(&mu_);
    target_ = target;
  }
  absl::Status WaitUntilReady(const registry::Endpoint& endpoint,
                              const registry::DeployedModel& deployed_model,
                              const registry::CancellationToken& cancel) override {
    control::DeploymentWaiter* target = Get();
    if (target == nullptr) return absl::UnavailableError("the data plane is not running");
    return target->WaitUntilReady(endpoint, deployed_model, cancel);
  }
  void WaitUntilRouted(const registry::CancellationToken& cancel, absl::Duration timeout) override {
    if (control::DeploymentWaiter* target = Get()) target->WaitUntilRouted(cancel, timeout);
  }
  absl::Status WaitUntilStopped(const registry::Endpoint& endpoint,
                                const registry::DeployedModel& deployed_model,
                                const registry::CancellationToken& cancel) override {
    control::DeploymentWaiter* target = Get();
    if (target == nullptr) return absl::OkStatus();  // nothing runs without a supervisor
    return target->WaitUntilStopped(endpoint, deployed_model, cancel);
  }

 private:
  control::DeploymentWaiter* Get() {
    absl::MutexLock lock(&mu_);
    return target_;
  }
  absl::Mutex mu_;
  control::DeploymentWaiter* target_ ABSL_GUARDED_BY(mu_) = nullptr;
};

class SupervisedDataPlane final : public DataPlane {
 public:
  explicit SupervisedDataPlane(const DataPlaneDeps& deps)
      : deps_(deps),
        random_(SeededRandom::OsSeed()),
        resolver_(deps.models),
        executor_(serving::rest::BlockingExecutor::Options{
            .threads = deps.predict_threads, .max_queued = deps.max_queued_predicts}) {}

  ~SupervisedDataPlane() override { Stop(); }

  control::DeploymentWaiter* waiter() override { return &waiter_; }

  absl::Status AddRoutes(serving::SecuredRouter& router) override {
    if (deps_.metrics == nullptr) return absl::InvalidArgumentError("data plane: no metrics");
    if (predict_metrics_ == nullptr) {
      ASSIGN_OR_RETURN(predict_metrics_, serving::PredictMetrics::Create(*deps_.metrics));
    }
    if (predictions_ == nullptr) {
      ASSIGN_OR_RETURN(predictions_,
                       serving::PredictionService::Create({.routing = &routing_,
                                                           .endpoints = deps_.endpoints,
                                                           .random = &random_,
                                                           .request_timeout = deps_.predict_timeout,
                                                           .endpoint_limits = deps_.endpoint_limits,
                                                           .spans = deps_.spans}));
    }
    const serving::PredictRunner runner{.executor = &executor_,
                                        .metrics = predict_metrics_.get(),
                                        .spans = deps_.spans,
                                        .payloads = deps_.payloads};
    RETURN_IF_ERROR(serving::AddVertexPredictRoutes(router, predictions_.get(), runner));
    RETURN_IF_ERROR(serving::AddTfServingRoutes(router, predictions_.get(), &resolver_, runner));
    RETURN_IF_ERROR(serving::AddKserveV2Routes(router, predictions_.get(), &resolver_, runner));
    serving::ReplicaStatusSources sources;
    sources.deployed_models = [this] {
      return supervisor_ != nullptr ? supervisor_->Status()
                                    : std::vector<control::DeployedModelStatus>{};
    };
    sources.autoscaling_events = [this](const std::string& id) {
      return autoscaler_ != nullptr ? autoscaler_->Events(id)
                                    : std::vector<control::AutoscalingEvent>{};
    };
    return serving::AddReplicaStatusRoutes(router, std::move(sources));
  }

  absl::Status Start() override {
    if (deps_.endpoints == nullptr || deps_.models == nullptr) {
      return absl::FailedPreconditionError("data plane: endpoints and models must be set");
    }
    if (supervisor_ != nullptr) return absl::FailedPreconditionError("data plane already started");
    control::Supervisor::Options options;
    options.endpoints = deps_.endpoints;
    options.models = deps_.models;
    options.routing = &routing_;
    options.self_binary = deps_.self_binary;
    options.data_dir = deps_.data_dir;
    options.extra_replica_args = {"--log-format", deps_.log_format, "--log-level", deps_.log_level};
    options.drain_timeout = absl::Seconds(EnvNumber("TESSERA_REPLICA_DRAIN_TIMEOUT_S", 30));
    ASSIGN_OR_RETURN(supervisor_, control::Supervisor::Create(options));
    RETURN_IF_ERROR(supervisor_->Start());
    waiter_.Set(supervisor_.get());
    control::AddReplicaMetrics(*deps_.metrics, [this] { return supervisor_->Status(); });

    control::AutoscalerLoop::Options autoscaler;
    autoscaler.endpoints = deps_.endpoints;
    autoscaler.replicas = [this] { return supervisor_->Status(); };
    autoscaler.clock = &clock_;
    autoscaler.interval = absl::Milliseconds(EnvNumber("TESSERA_AUTOSCALER_INTERVAL_MS", 5000));
    autoscaler.scale_down_stabilization_window =
        absl::Seconds(EnvNumber("TESSERA_AUTOSCALER_SCALE_DOWN_WINDOW_S", 300));
    autoscaler.target_in_flight_per_replica = EnvNumber("TESSERA_AUTOSCALER_TARGET_IN_FLIGHT", 8);
    ASSIGN_OR_RETURN(decisions_,
                     deps_.metrics->AddCounter(
                         "tessera_autoscaler_decisions_total",
                         "Autoscaler decisions: a change of the replica count, or one a limit held "
                         "back (direction hold); the reason is in the log and autoscalingEvents.",
                         {"endpoint", "deployed_model", "direction", "limited_by"}));
    autoscaler.decisions = decisions_;
    ASSIGN_OR_RETURN(autoscaler_, control::AutoscalerLoop::Create(autoscaler));
    autoscaler_->Start();
    if (!deps_.grpc_listen.empty()) {
      if (predictions_ == nullptr) {
        return absl::FailedPreconditionError("data plane: AddRoutes must run before Start");
      }
      ASSIGN_OR_RETURN(grpc_, serving::KserveGrpcServer::Start(
                                  {.listen = deps_.grpc_listen,
                                   .predictions = predictions_.get(),
                                   .resolver = &resolver_,
                                   .door = deps_.door,
                                   .metrics = predict_metrics_.get(),
                                   .spans = deps_.spans,
                                   .tls_certificate_chain = deps_.grpc_tls_certificate_chain,
                                   .tls_private_key = deps_.grpc_tls_private_key,
                                   .handshake_timeout = deps_.grpc_handshake_timeout}));
    }
    return absl::OkStatus();
  }

  int grpc_port() const override { return grpc_ != nullptr ? grpc_->port() : 0; }

  void RetainLiveSeries() override {
    if (predict_metrics_ == nullptr || deps_.endpoints == nullptr) return;
    absl::StatusOr<std::vector<registry::Endpoint>> endpoints = deps_.endpoints->ListAllEndpoints();
    if (!endpoints.ok()) return;  // keep everything until the list can be read
    std::set<std::string> live;
    for (const registry::Endpoint& e : *endpoints) live.insert(e.name);
    predict_metrics_->RetainEndpoints(live);
    if (deps_.payloads != nullptr) deps_.payloads->RetainEndpoints(live);
    if (decisions_ != nullptr) {
      decisions_->RemoveIf([&live](const metrics::LabelValues& v) { return !live.count(v[0]); });
    }
  }

  bool Routes(const std::string& endpoint) const override {
    return routing_.Snapshot()->FindEndpoint(endpoint) != nullptr;
  }

  void Stop() override {
    if (grpc_ != nullptr) grpc_->Shutdown();  // lets calls in flight finish on the replicas
    if (autoscaler_ != nullptr) autoscaler_->Stop();
    if (supervisor_ != nullptr) supervisor_->Stop();  // drains and stops every replica
  }

 private:
  const DataPlaneDeps& deps_;  // serve fills deps.endpoints after CreateDataPlane
  RealClock clock_;
  SeededRandom random_;
  RoutingTableHolder routing_;
  ForwardingWaiter waiter_;
  serving::ModelResolver resolver_;
  std::unique_ptr<serving::PredictMetrics> predict_metrics_;
  metrics::CounterFamily* decisions_ = nullptr;  // the autoscaler's, in deps_.metrics
  std::unique_ptr<serving::PredictionService> predictions_;
  // After predictions_: destroyed first, so running predict tasks finish before it goes.
  serving::rest::BlockingExecutor executor_;
  std::unique_ptr<control::Supervisor> supervisor_;
  std::unique_ptr<control::AutoscalerLoop> autoscaler_;
  std::unique_ptr<serving::KserveGrpcServer> grpc_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DataPlane>> CreateDataPlane(const DataPlaneDeps& deps) {
  if (deps.models == nullptr) return absl::InvalidArgumentError("data plane: models is required");
  if (deps.self_binary.empty()) {
    return absl::InvalidArgumentError("data plane: the tessera binary path is unknown");
  }
  return std::make_unique<SupervisedDataPlane>(deps);
}

}  // namespace tessera::cli
