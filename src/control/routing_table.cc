#include "control/routing_table.h"

#include <set>

#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera {

std::string RoutedDeployedModel::ModelId() const {
  const size_t pos = model.rfind("models/");
  if (pos == std::string::npos) return model;
  std::string id = model.substr(pos + 7);
  const size_t end = id.find_first_of("/@");
  if (end != std::string::npos) id.resize(end);
  return id;
}

PickOptions Route::RetryOptions() const {
  return PickOptions{.pinned_deployed_model_id = deployed_model_->id,
                     .exclude_replica_id = replica_->replica_id};
}

std::shared_ptr<const RoutingTable> RoutingTable::Empty() {
  std::shared_ptr<RoutingTable> table(new RoutingTable());
  return table;
}

const RoutedEndpoint* RoutingTable::FindEndpoint(std::string_view endpoint_id) const {
  auto it = endpoint_index_.find(endpoint_id);
  return it == endpoint_index_.end() ? nullptr : &endpoints_[it->second];
}

std::span<const DeployedModelRef> RoutingTable::FindByModelVersion(
    std::string_view model_id, std::string_view model_version_id) const {
  auto model = by_model_.find(model_id);
  if (model == by_model_.end()) return {};
  auto version = model->second.find(model_version_id);
  if (version == model->second.end()) return {};
  return version->second;
}

std::vector<DeployedModelRef> RoutingTable::FindByModel(std::string_view model_id) const {
  std::vector<DeployedModelRef> refs;
  auto model = by_model_.find(model_id);
  if (model == by_model_.end()) return refs;
  for (const auto& [version, version_refs] : model->second) {
    refs.insert(refs.end(), version_refs.begin(), version_refs.end());
  }
  return refs;
}

absl::StatusOr<Route> RoutingTable::PickForEndpoint(std::string_view endpoint_id,
                                                    const PickOptions& options,
                                                    RandomSource& random) const {
  auto it = endpoint_index_.find(endpoint_id);
  if (it == endpoint_index_.end()) {
    return absl::NotFoundError(fmt::format("endpoint \"{}\" not found", endpoint_id));
  }
  const RoutedEndpoint& endpoint = endpoints_[it->second];
  const RoutedDeployedModel* chosen = nullptr;
  if (!options.pinned_deployed_model_id.empty()) {
    for (const RoutedDeployedModel& dm : endpoint.deployed_models) {
      if (dm.id == options.pinned_deployed_model_id) chosen = &dm;
    }
    if (chosen == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("deployed model \"{}\" is not deployed on endpoint \"{}\"",
                      options.pinned_deployed_model_id, endpoint.id));
    }
  } else {
    if (endpoint.deployed_models.empty()) {
      return absl::FailedPreconditionError(
          fmt::format("endpoint \"{}\" has no deployed models", endpoint.id));
    }
    const std::vector<SplitEntry>& split = splits_[it->second];
    std::vector<int> weights;
    weights.reserve(split.size());
    for (const SplitEntry& e : split) weights.push_back(e.percent);
    const int index = PickWeightedIndex(weights, random.Uniform());
    if (index < 0) {
      return absl::FailedPreconditionError(fmt::format(
          "endpoint \"{}\" has a traffic split that sends no traffic to any deployed model",
          endpoint.id));
    }
    chosen = &endpoint.deployed_models[split[index].deployed_model_index];
  }
  const DeployedModelRef candidate{&endpoint, chosen};
  return PickReplica(
      std::span<const DeployedModelRef>(&candidate, 1), options, random,
      fmt::format("deployed model \"{}\" on endpoint \"{}\"", chosen->id, endpoint.id));
}

absl::StatusOr<Route> RoutingTable::PickForModel(std::string_view model_id,
                                                 std::string_view model_version_id,
                                                 const PickOptions& options,
                                                 RandomSource& random) const {
  std::span<const DeployedModelRef> refs = FindByModelVersion(model_id, model_version_id);
  std::vector<DeployedModelRef> allowed;
  if (options.allow_endpoint) {
    for (const DeployedModelRef& ref : refs) {
      if (options.allow_endpoint(*ref.endpoint)) allowed.push_back(ref);
    }
    refs = allowed;
  }
  if (refs.empty()) {
    return absl::NotFoundError(
        fmt::format("version \"{}\" of model \"{}\" is not deployed to any endpoint",
                    model_version_id, model_id));
  }
  if (!options.pinned_deployed_model_id.empty()) {
    for (const DeployedModelRef& ref : refs) {
      if (ref.deployed_model->id == options.pinned_deployed_model_id) {
        return PickReplica(std::span<const DeployedModelRef>(&ref, 1), options, random,
                           fmt::format("deployed model \"{}\"", ref.deployed_model->id));
      }
    }
    return absl::InvalidArgumentError(
        fmt::format("deployed model \"{}\" does not serve version \"{}\" of model \"{}\"",
                    options.pinned_deployed_model_id, model_version_id, model_id));
  }
  return PickReplica(refs, options, random,
                     fmt::format("version \"{}\" of model \"{}\"", model_version_id, model_id));
}

absl::StatusOr<Route> RoutingTable::PickReplica(std::span<const DeployedModelRef> candidates,
                                                const PickOptions& options, RandomSource& random,
                                                std::string_view what) const {
  struct Slot {
    const DeployedModelRef* ref;
    const RoutedReplica* replica;
  };
  std::vector<Slot> slots;
  std::vector<int64_t> in_flight;
  for (const DeployedModelRef& ref : candidates) {
    for (const RoutedReplica& replica : ref.deployed_model->ready_replicas) {
      slots.push_back(Slot{&ref, &replica});
      const bool eligible =
          replica.replica_id != options.exclude_replica_id && !replica.load->draining();
      in_flight.push_back(eligible ? replica.load->in_flight() : -1);
    }
  }
  // A replica may start draining between the read above and the acquire: then skip it and retry.
  for (size_t attempt = 0; attempt < slots.size(); ++attempt) {
    const int index = PickLeastLoaded(in_flight, random.Uniform());
    if (index < 0) break;
    std::optional<ReplicaLease> lease = ReplicaLease::TryAcquire(slots[index].replica->load);
    if (!lease.has_value()) {
      in_flight[index] = -1;
      continue;
    }
    return Route(shared_from_this(), slots[index].ref->endpoint, slots[index].ref->deployed_model,
                 slots[index].replica, std::move(*lease));
  }
  if (!options.exclude_replica_id.empty()) {
    return absl::UnavailableError(
        fmt::format("{} has no ready replica other than \"{}\"", what, options.exclude_replica_id));
  }
  return absl::UnavailableError(fmt::format("{} has no ready replica", what));
}

RoutingTableBuilder& RoutingTableBuilder::AddEndpoint(RoutedEndpoint endpoint) {
  endpoints_.push_back(std::move(endpoint));
  return *this;
}

namespace {

absl::Status ValidateDeployedModel(const RoutedEndpoint& endpoint, const RoutedDeployedModel& dm) {
  const std::string where =
      fmt::format("deployed model \"{}\" on endpoint \"{}\"", dm.id, endpoint.id);
  if (dm.model.empty()) return absl::InvalidArgumentError(where + " has an empty model name");
  if (dm.model_version_id.empty()) {
    return absl::InvalidArgumentError(where + " has an empty model version id");
  }
  if (dm.input_key.empty()) return absl::InvalidArgumentError(where + " has an empty input key");
  std::set<std::string> replica_ids;
  for (const RoutedReplica& replica : dm.ready_replicas) {
    if (replica.replica_id.empty()) {
      return absl::InvalidArgumentError(where + " has a replica with an empty id");
    }
    if (!replica_ids.insert(replica.replica_id).second) {
      return absl::InvalidArgumentError(
          fmt::format("{} lists replica \"{}\" twice", where, replica.replica_id));
    }
    if (replica.address.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("replica \"{}\" of {} has no address", replica.replica_id, where));
    }
    if (replica.load == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("replica \"{}\" of {} has no in-flight counter", replica.replica_id, where));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const RoutingTable>> RoutingTableBuilder::Build() {
  std::shared_ptr<RoutingTable> table(new RoutingTable());
  table->generation_ = generation_;
  table->endpoints_ = std::move(endpoints_);
  endpoints_.clear();
  for (size_t e = 0; e < table->endpoints_.size(); ++e) {
    const RoutedEndpoint& endpoint = table->endpoints_[e];
    if (endpoint.id.empty()) return absl::InvalidArgumentError("an endpoint has an empty id");
    if (!table->endpoint_index_.emplace(endpoint.id, e).second) {
      return absl::InvalidArgumentError(
          fmt::format("endpoint \"{}\" appears twice in the routing table", endpoint.id));
    }
    std::set<std::string> ids;
    std::map<std::string, int> index_of;
    for (size_t d = 0; d < endpoint.deployed_models.size(); ++d) {
      const RoutedDeployedModel& dm = endpoint.deployed_models[d];
      if (dm.id.empty()) {
        return absl::InvalidArgumentError(
            fmt::format("endpoint \"{}\" has a deployed model with an empty id", endpoint.id));
      }
      if (!ids.insert(dm.id).second) {
        return absl::InvalidArgumentError(fmt::format(
            "deployed model \"{}\" appears twice on endpoint \"{}\"", dm.id, endpoint.id));
      }
      RETURN_IF_ERROR(ValidateDeployedModel(endpoint, dm));
      index_of[dm.id] = static_cast<int>(d);
    }
    absl::Status split_status = ValidateTrafficSplit(endpoint.traffic_split, ids);
    if (!split_status.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("endpoint \"{}\": {}", endpoint.id, std::string(split_status.message())));
    }
    std::vector<RoutingTable::SplitEntry> split;
    for (const auto& [id, percent] :
         endpoint.traffic_split) {  // key order, as PickFromTrafficSplit
      split.push_back(RoutingTable::SplitEntry{percent, index_of.at(id)});
    }
    table->splits_.push_back(std::move(split));
    for (const RoutedDeployedModel& dm : endpoint.deployed_models) {
      table->by_model_[dm.ModelId()][dm.model_version_id].push_back(
          DeployedModelRef{&endpoint, &dm});
    }
  }
  return std::shared_ptr<const RoutingTable>(std::move(table));
}

void RoutingTableHolder::Publish(std::shared_ptr<const RoutingTable> table) {
  if (table == nullptr) table = RoutingTable::Empty();
  {
    absl::MutexLock lock(&mu_);
    table_.swap(table);
  }
  // `table` now holds the previous snapshot: released here, outside the lock.
}

}  // namespace tessera
