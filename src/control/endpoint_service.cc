#include "control/endpoint_service.h"

#include "common/status_macros.h"
#include "control/deployment_rules.h"
#include "fmt/format.h"
#include "registry/resource_name.h"
#include "registry/validation.h"
#include "spdlog/spdlog.h"

namespace tessera::control {
namespace {

// Vertex caps Endpoint.clientConnectionConfig.inferenceTimeout at an hour as well.
constexpr absl::Duration kMaxInferenceTimeout = absl::Hours(1);

absl::Status ValidateInferenceTimeout(absl::Duration timeout) {
  if (timeout < absl::ZeroDuration() || timeout > kMaxInferenceTimeout) {
    return absl::InvalidArgumentError(fmt::format(
        "endpoint.clientConnectionConfig.inferenceTimeout must be between 0s and {}s, got {}s",
        absl::ToInt64Seconds(kMaxInferenceTimeout), absl::ToDoubleSeconds(timeout)));
  }
  return absl::OkStatus();
}

absl::Status ValidatePayloadLogging(const registry::PayloadLoggingConfig& config) {
  if (!(config.sampling_rate >= 0 && config.sampling_rate <= 1)) {
    return absl::InvalidArgumentError(fmt::format(
        "endpoint.predictRequestResponseLoggingConfig.samplingRate must be between 0 and 1, got "
        "{}",
        config.sampling_rate));
  }
  return absl::OkStatus();
}

using registry::DeployedModel;
using registry::DeployedModelState;
using registry::Endpoint;
using registry::EndpointName;
using registry::ListPage;
using registry::MetadataTxn;
using registry::Operation;
using registry::OperationKind;
using registry::OperationName;
using registry::OperationResult;
using registry::TrafficSplit;

DeployedModel* FindMutable(Endpoint& e, std::string_view id) {
  for (auto& dm : e.deployed_models) {
    if (dm.id == id) return &dm;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EndpointService>> EndpointService::Create(const Options& options) {
  if (options.store == nullptr || options.operations == nullptr || options.waiter == nullptr ||
      options.clock == nullptr) {
    return absl::InvalidArgumentError(
        "EndpointService: store, operations, waiter and clock are required");
  }
  std::unique_ptr<EndpointService> service(new EndpointService(options));
  RETURN_IF_ERROR(service->RecoverInterruptedDeployments());
  ASSIGN_OR_RETURN(service->runner_, registry::OperationRunner::Create(
                                         {.operations = options.operations,
                                          .threads = std::max(1, options.deploy_threads),
                                          .name = "deployments"}));
  return service;
}

EndpointService::~EndpointService() { runner_.reset(); }

void EndpointService::WaitIdle() { runner_->WaitIdle(); }

absl::Status EndpointService::RecoverInterruptedDeployments() {
  absl::Time now = options_.clock->Now();
  int removed = 0;
  RETURN_IF_ERROR(options_.store->Transact([&](MetadataTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<Endpoint> endpoints, txn.ListAllEndpoints());
    for (const Endpoint& e : endpoints) {
      ASSIGN_OR_RETURN(EndpointName name, EndpointName::Parse(e.name));
      for (const DeployedModel& dm : e.deployed_models) {
        if (dm.state == DeployedModelState::kDeployed) continue;
        // DEPLOYING never had traffic; UNDEPLOYING was already out of the split.
        RETURN_IF_ERROR(txn.RemoveDeployedModel(name, dm.id, now));
        spdlog::warn("removed deployed model {} of {} left {} by the last shutdown", dm.id, e.name,
                     registry::DeployedModelStateName(dm.state));
        ++removed;
      }
    }
    return absl::OkStatus();
  }));
  if (removed > 0) NotifyListeners();
  return absl::OkStatus();
}

void EndpointService::AddListener(Listener listener) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.push_back(std::move(listener));
}

void EndpointService::NotifyListeners() {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  std::vector<Listener> listeners;
  {
    absl::MutexLock lock(&listeners_mu_);
    listeners = listeners_;
  }
  for (const auto& l : listeners) l();
}

Operation EndpointService::NewOperation(OperationKind kind, const std::string& target, bool done) {
  Operation op;
  op.kind = kind;
  op.target = target;
  op.create_time = op.update_time = options_.clock->Now();
  op.done = done;
  op.progress_percent = done ? 100 : 0;
  op.stage = done ? "DONE" : "PENDING";
  return op;
}

absl::StatusOr<Operation> EndpointService::CreateEndpoint(std::string_view parent,
                                                          const Endpoint& endpoint,
                                                          std::string_view endpoint_id) {
  ASSIGN_OR_RETURN(registry::LocationName location, registry::LocationName::Parse(parent));
  RETURN_IF_ERROR(registry::ValidateDisplayName(endpoint.display_name, "endpoint.displayName"));
  RETURN_IF_ERROR(registry::ValidateDescription(endpoint.description, "endpoint.description"));
  RETURN_IF_ERROR(registry::ValidateLabels(endpoint.labels));
  RETURN_IF_ERROR(ValidateInferenceTimeout(endpoint.inference_timeout));
  RETURN_IF_ERROR(ValidatePayloadLogging(endpoint.payload_logging));
  if (!endpoint_id.empty()) {
    RETURN_IF_ERROR(registry::ValidateUserResourceId(endpoint_id, "endpointId"));
  }
  absl::Time now = options_.clock->Now();
  ASSIGN_OR_RETURN(
      Operation op,
      options_.store->TransactValue<Operation>([&](MetadataTxn& txn) -> absl::StatusOr<Operation> {
        RETURN_IF_ERROR(CheckProjectQuota(txn, location.project, ProjectUsage{.endpoints = 1}));
        ASSIGN_OR_RETURN(Endpoint created,
                         txn.CreateEndpoint(location, std::string(endpoint_id), endpoint, now));
        Operation op = NewOperation(OperationKind::kCreateEndpoint, created.name, /*done=*/true);
        op.result.endpoint = created.name;
        return txn.CreateOperation(location, op);
      }));
  NotifyListeners();
  return op;
}

absl::StatusOr<Endpoint> EndpointService::GetEndpoint(std::string_view name) {
  ASSIGN_OR_RETURN(EndpointName parsed, EndpointName::Parse(name));
  return options_.store->TransactValue<Endpoint>(
      [&](MetadataTxn& txn) { return txn.GetEndpoint(parsed); });
}

absl::StatusOr<ListPage<Endpoint>> EndpointService::ListEndpoints(
    std::string_view parent, const registry::ListQuery& query) {
  ASSIGN_OR_RETURN(registry::LocationName location, registry::LocationName::Parse(parent));
  registry::ListArgs args;
  ASSIGN_OR_RETURN(args.filter,
                   registry::ParseListFilter(query.filter, {.display_name = true, .labels = true}));
  ASSIGN_OR_RETURN(args.page_size, registry::EffectivePageSize(query.page_size));
  args.page_token = query.page_token;
  return options_.store->TransactValue<ListPage<Endpoint>>(
      [&](MetadataTxn& txn) { return txn.ListEndpoints(location, args); });
}

absl::StatusOr<Endpoint> EndpointService::UpdateEndpoint(
    const Endpoint& endpoint, const std::vector<std::string>& update_mask) {
  ASSIGN_OR_RETURN(EndpointName name, EndpointName::Parse(endpoint.name));
  if (update_mask.empty()) {
    return absl::InvalidArgumentError(
        "updateMask is required (displayName, description, labels, trafficSplit, "
        "clientConnectionConfig, predictRequestResponseLoggingConfig)");
  }
  bool display = false, description = false, labels = false, split = false, timeout = false,
       payload_logging = false;
  for (const std::string& path : update_mask) {
    if (path == "displayName" || path == "display_name") {
      display = true;
    } else if (path == "description") {
      description = true;
    } else if (path == "labels") {
      labels = true;
    } else if (path == "trafficSplit" || path == "traffic_split") {
      split = true;
    } else if (path == "clientConnectionConfig" || path == "client_connection_config" ||
               path == "clientConnectionConfig.inferenceTimeout" ||
               path == "client_connection_config.inference_timeout") {
      timeout = true;
    } else if (path == "predictRequestResponseLoggingConfig" ||
               path == "predict_request_response_logging_config") {
      payload_logging = true;
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "updateMask: \"{}\" cannot be updated (updatable: displayName, description, labels, "
          "trafficSplit, clientConnectionConfig, predictRequestResponseLoggingConfig)",
          path));
    }
  }
  if (display)
    RETURN_IF_ERROR(registry::ValidateDisplayName(endpoint.display_name, "endpoint.displayName"));
  if (description)
    RETURN_IF_ERROR(registry::ValidateDescription(endpoint.description, "endpoint.description"));
  if (labels) RETURN_IF_ERROR(registry::ValidateLabels(endpoint.labels));
  if (timeout) RETURN_IF_ERROR(ValidateInferenceTimeout(endpoint.inference_timeout));
  if (payload_logging) RETURN_IF_ERROR(ValidatePayloadLogging(endpoint.payload_logging));
  absl::Time now = options_.clock->Now();
  ASSIGN_OR_RETURN(
      Endpoint updated,
      options_.store->TransactValue<Endpoint>([&](MetadataTxn& txn) -> absl::StatusOr<Endpoint> {
        ASSIGN_OR_RETURN(Endpoint current, txn.GetEndpoint(name));
        if (!endpoint.etag.empty() && endpoint.etag != current.etag) {
          return absl::AbortedError(fmt::format(
              "endpoint {} changed since it was read (etag {} is now {}); read it again",
              current.name, endpoint.etag, current.etag));
        }
        if (display) current.display_name = endpoint.display_name;
        if (description) current.description = endpoint.description;
        if (labels) current.labels = endpoint.labels;
        if (timeout) current.inference_timeout = endpoint.inference_timeout;
        if (payload_logging) current.payload_logging = endpoint.payload_logging;
        if (split) {
          RETURN_IF_ERROR(ValidateEndpointSplit(current, endpoint.traffic_split));
          current.traffic_split = endpoint.traffic_split;
        }
        return txn.UpdateEndpoint(current, now);
      }));
  NotifyListeners();
  return updated;
}

absl::StatusOr<Operation> EndpointService::DeleteEndpoint(std::string_view name) {
  ASSIGN_OR_RETURN(EndpointName parsed, EndpointName::Parse(name));
  ASSIGN_OR_RETURN(
      Operation op,
      options_.store->TransactValue<Operation>([&](MetadataTxn& txn) -> absl::StatusOr<Operation> {
        RETURN_IF_ERROR(txn.DeleteEndpoint(parsed));
        return txn.CreateOperation(
            parsed.parent, NewOperation(OperationKind::kDeleteEndpoint, parsed.ToString(), true));
      }));
  NotifyListeners();
  return op;
}

absl::StatusOr<Operation> EndpointService::DeployModel(const DeployModelRequest& request) {
  ASSIGN_OR_RETURN(EndpointName endpoint_name, EndpointName::Parse(request.endpoint));
  DeployedModel dm = request.deployed_model;
  if (dm.model.empty()) return absl::InvalidArgumentError("deployedModel.model is required");
  // Vertex lets the caller choose the id (else one is allocated); the store checks it is free.
  if (!dm.id.empty()) RETURN_IF_ERROR(registry::ValidateDeployedModelId(dm.id));
  ASSIGN_OR_RETURN(registry::ModelName model_name, registry::ModelName::Parse(dm.model));
  if (!(model_name.parent == endpoint_name.parent)) {
    return absl::InvalidArgumentError(
        fmt::format("model {} is not in {}, the endpoint's project and location", dm.model,
                    endpoint_name.parent.ToString()));
  }
  ASSIGN_OR_RETURN(MachineType machine, NormalizeResources(dm, options_.host));
  if (machine.cpu_threads > options_.host.cpu_count) {
    spdlog::warn("deploy to {}: {} has {} threads, the host {} cores; replicas will share cores",
                 request.endpoint, machine.name, machine.cpu_threads, options_.host.cpu_count);
  }
  absl::Time now = options_.clock->Now();
  std::string new_id;
  TrafficSplit split = request.traffic_split;
  ASSIGN_OR_RETURN(
      Operation op,
      options_.store->TransactValue<Operation>([&](MetadataTxn& txn) -> absl::StatusOr<Operation> {
        ASSIGN_OR_RETURN(Endpoint endpoint, txn.GetEndpoint(endpoint_name));
        ASSIGN_OR_RETURN(registry::Model model, txn.GetModel(model_name));
        dm.model = model.name;
        dm.model_version_id = model.version_id;
        if (dm.display_name.empty()) dm.display_name = model.display_name;
        RETURN_IF_ERROR(ValidateServingOptions(dm, machine));
        // After the options: a misspelt precision is named as such, not as one the host lacks.
        RETURN_IF_ERROR(CheckHostRunsPrecision(dm.precision, options_.host));
        // Validated now; applied (and, when omitted, defaulted) against the endpoint as it is
        // when the deploy completes.
        RETURN_IF_ERROR(DeploySplit(endpoint, request.traffic_split).status());
        dm.state = DeployedModelState::kDeploying;
        dm.desired_replica_count = dm.MinReplicaCount();
        RETURN_IF_ERROR(CheckProjectQuota(txn, endpoint_name.parent.project, UsageOf(dm)));
        ASSIGN_OR_RETURN(new_id, txn.AddDeployedModel(endpoint_name, dm, now));
        return txn.CreateOperation(endpoint_name.parent,
                                   NewOperation(OperationKind::kDeployModel, endpoint.name, false));
      }));
  NotifyListeners();
  absl::Status submitted =
      runner_->Submit(op, [this, endpoint_name, new_id, split](registry::OperationContext& ctx) {
        return RunDeploy(ctx, endpoint_name, new_id, split);
      });
  if (!submitted.ok()) {
    (void)options_.store->Transact([&](MetadataTxn& txn) {
      return txn.RemoveDeployedModel(endpoint_name, new_id, options_.clock->Now());
    });
    (void)options_.operations->Finish(op.name, submitted);
    NotifyListeners();
    return submitted;
  }
  return op;
}

absl::StatusOr<OperationResult> EndpointService::RunDeploy(registry::OperationContext& ctx,
                                                           const EndpointName& endpoint_name,
                                                           const std::string& deployed_model_id,
                                                           const TrafficSplit& requested) {
  ASSIGN_OR_RETURN(OperationName op_name, OperationName::Parse(ctx.name()));
  absl::StatusOr<OperationResult> outcome = [&]() -> absl::StatusOr<OperationResult> {
    ASSIGN_OR_RETURN(Endpoint endpoint, GetEndpoint(endpoint_name.ToString()));
    const DeployedModel* dm = endpoint.FindDeployedModel(deployed_model_id);
    if (dm == nullptr) {
      return absl::AbortedError(fmt::format("deployed model {} disappeared", deployed_model_id));
    }
    ctx.SetProgress(10, "STARTING_MODEL_SERVER");
    RETURN_IF_ERROR(options_.waiter->WaitUntilReady(endpoint, *dm, ctx.cancel()));
    ctx.SetProgress(90, "FINISHING_UP");
    absl::Time now = options_.clock->Now();
    OperationResult result;
    result.endpoint = endpoint_name.ToString();
    result.deployed_model_id = deployed_model_id;
    RETURN_IF_ERROR(options_.store->Transact([&](MetadataTxn& txn) -> absl::Status {
      RETURN_IF_ERROR(ctx.cancel().Check());
      ASSIGN_OR_RETURN(Endpoint current, txn.GetEndpoint(endpoint_name));
      DeployedModel* mine = FindMutable(current, deployed_model_id);
      if (mine == nullptr || mine->state != DeployedModelState::kDeploying) {
        return absl::AbortedError(
            fmt::format("deployed model {} changed while deploying", deployed_model_id));
      }
      // Other models may have come or gone meanwhile: decide the split against now (this model
      // is still DEPLOYING here, so "0" is the only name for it).
      ASSIGN_OR_RETURN(TrafficSplit split, DeploySplit(current, requested));
      mine->state = DeployedModelState::kDeployed;
      TrafficSplit applied = ReplaceNewModelKey(split, deployed_model_id);
      RETURN_IF_ERROR(ValidateEndpointSplit(current, applied));
      current.traffic_split = applied;
      return txn.UpdateEndpoint(current, now).status();
    }));
    // Done only once the data plane routes by the new split: a client that predicts as soon as
    // it sees the operation done must be served, not told the split sends it nowhere (seen under
    // load). The model is deployed from here on, whatever happens to the operation.
    NotifyListeners();
    options_.waiter->WaitUntilRouted(ctx.cancel(), absl::Seconds(10));
    const absl::Status completed = options_.store->Transact([&](MetadataTxn& txn) {
      return txn.CompleteOperation(op_name, absl::OkStatus(), result, options_.clock->Now())
          .status();
    });
    if (!completed.ok()) {
      spdlog::error("deploy {}: deployed, but the operation could not be completed: {}", ctx.name(),
                    completed.ToString());
    }
    return result;
  }();
  if (!outcome.ok()) {
    absl::Status rollback = options_.store->Transact([&](MetadataTxn& txn) -> absl::Status {
      absl::Status s =
          txn.RemoveDeployedModel(endpoint_name, deployed_model_id, options_.clock->Now());
      return absl::IsNotFound(s) ? absl::OkStatus() : s;
    });
    if (!rollback.ok()) {
      spdlog::error("deploy {}: cannot remove deployed model {}: {}", ctx.name(), deployed_model_id,
                    rollback.ToString());
    }
  }
  NotifyListeners();
  return outcome;
}

absl::StatusOr<Operation> EndpointService::UndeployModel(const UndeployModelRequest& request) {
  ASSIGN_OR_RETURN(EndpointName endpoint_name, EndpointName::Parse(request.endpoint));
  if (request.deployed_model_id.empty()) {
    return absl::InvalidArgumentError("deployedModelId is required");
  }
  absl::Time now = options_.clock->Now();
  ASSIGN_OR_RETURN(
      Operation op,
      options_.store->TransactValue<Operation>([&](MetadataTxn& txn) -> absl::StatusOr<Operation> {
        ASSIGN_OR_RETURN(Endpoint endpoint, txn.GetEndpoint(endpoint_name));
        DeployedModel* dm = FindMutable(endpoint, request.deployed_model_id);
        if (dm == nullptr) {
          return absl::NotFoundError(fmt::format("deployed model {} not found on endpoint {}",
                                                 request.deployed_model_id, endpoint.name));
        }
        if (dm->state != DeployedModelState::kDeployed) {
          return absl::FailedPreconditionError(
              fmt::format("deployed model {} is {}; wait for (or cancel) its operation first",
                          dm->id, registry::DeployedModelStateName(dm->state)));
        }
        ASSIGN_OR_RETURN(endpoint.traffic_split,
                         UndeploySplit(endpoint, dm->id, request.traffic_split));
        dm->state = DeployedModelState::kUndeploying;
        RETURN_IF_ERROR(txn.UpdateEndpoint(endpoint, now).status());
        return txn.CreateOperation(endpoint_name.parent, NewOperation(OperationKind::kUndeployModel,
                                                                      endpoint.name, false));
      }));
  NotifyListeners();
  std::string id = request.deployed_model_id;
  absl::Status submitted =
      runner_->Submit(op, [this, endpoint_name, id](registry::OperationContext& ctx) {
        return RunUndeploy(ctx, endpoint_name, id);
      });
  if (!submitted.ok()) {
    (void)options_.operations->Finish(op.name, submitted);
    return submitted;
  }
  return op;
}

absl::StatusOr<OperationResult> EndpointService::RunUndeploy(registry::OperationContext& ctx,
                                                             const EndpointName& endpoint_name,
                                                             const std::string& deployed_model_id) {
  ASSIGN_OR_RETURN(OperationName op_name, OperationName::Parse(ctx.name()));
  ASSIGN_OR_RETURN(Endpoint endpoint, GetEndpoint(endpoint_name.ToString()));
  const DeployedModel* dm = endpoint.FindDeployedModel(deployed_model_id);
  if (dm == nullptr) {
    return absl::AbortedError(fmt::format("deployed model {} disappeared", deployed_model_id));
  }
  ctx.SetProgress(10, "STOPPING_REPLICAS");
  absl::Status stopped = options_.waiter->WaitUntilStopped(endpoint, *dm, ctx.cancel());
  absl::Time now = options_.clock->Now();
  absl::Status committed = options_.store->Transact([&](MetadataTxn& txn) -> absl::Status {
    if (!stopped.ok()) {
      // Not undeployed after all: it stays, without traffic (the split already moved).
      ASSIGN_OR_RETURN(Endpoint current, txn.GetEndpoint(endpoint_name));
      DeployedModel* mine = FindMutable(current, deployed_model_id);
      if (mine != nullptr) {
        mine->state = DeployedModelState::kDeployed;
        RETURN_IF_ERROR(txn.UpdateEndpoint(current, now).status());
      }
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(txn.RemoveDeployedModel(endpoint_name, deployed_model_id, now));
    return txn.CompleteOperation(op_name, absl::OkStatus(), OperationResult{}, now).status();
  });
  NotifyListeners();
  RETURN_IF_ERROR(stopped);
  RETURN_IF_ERROR(committed);
  return OperationResult{};
}

absl::StatusOr<DeployedModel> EndpointService::SetDesiredReplicaCount(
    std::string_view endpoint, std::string_view deployed_model_id, int32_t count) {
  ASSIGN_OR_RETURN(EndpointName name, EndpointName::Parse(endpoint));
  absl::Time now = options_.clock->Now();
  ASSIGN_OR_RETURN(
      DeployedModel result,
      options_.store->TransactValue<DeployedModel>(
          [&](MetadataTxn& txn) -> absl::StatusOr<DeployedModel> {
            ASSIGN_OR_RETURN(Endpoint current, txn.GetEndpoint(name));
            DeployedModel* dm = FindMutable(current, deployed_model_id);
            if (dm == nullptr) {
              return absl::NotFoundError(fmt::format("deployed model {} not found on endpoint {}",
                                                     deployed_model_id, current.name));
            }
            if (count < dm->MinReplicaCount() || count > dm->MaxReplicaCount()) {
              return absl::InvalidArgumentError(
                  fmt::format("desired replica count {} is outside [{}, {}] of deployed model {}",
                              count, dm->MinReplicaCount(), dm->MaxReplicaCount(), dm->id));
            }
            dm->desired_replica_count = count;
            DeployedModel copy = *dm;
            RETURN_IF_ERROR(txn.UpdateEndpoint(current, now).status());
            return copy;
          }));
  NotifyListeners();
  return result;
}

absl::StatusOr<std::vector<Endpoint>> EndpointService::ListAllEndpoints() {
  return options_.store->TransactValue<std::vector<Endpoint>>(
      [](MetadataTxn& txn) { return txn.ListAllEndpoints(); });
}

}  // namespace tessera::control
