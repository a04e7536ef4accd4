// MetadataStore: every persistent record of the control plane (models, versions, aliases,
// labels, artifact manifests, endpoints, deployed models, traffic splits, operations) behind a
// storage-agnostic interface. SQLite implements it now (registry/sqlite/), PostgreSQL later.
//
// All access goes through Transact(): the callback runs inside one transaction and sees a
// consistent state; its writes commit together when it returns OK and roll back otherwise. The
// services put their rules in the callback (read, check, write), so each API call is atomic
// (e.g. "commit version 3 and complete its upload operation" is one transaction, which is what
// makes a kill -9 at any moment leave either both or neither).
//
// Threading: Transact() may be called from any thread; implementations serialize or isolate
// transactions. A MetadataTxn is valid only inside its callback, on the calling thread. The
// callback must be short (no file copying, no waiting): do slow work before, commit after.
//
// Errors: NOT_FOUND for unknown resources (messages name them), ALREADY_EXISTS for taken ids,
// FAILED_PRECONDITION when a constraint refuses a delete (e.g. a deployed version),
// INVALID_ARGUMENT for a bad page token, INTERNAL/UNAVAILABLE for storage failures.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "registry/api_key.h"
#include "registry/endpoint.h"
#include "registry/list_query.h"
#include "registry/model.h"
#include "registry/operation.h"
#include "registry/resource_name.h"

namespace tessera::registry {

// The model-level fields of a new model.
struct NewModel {
  std::string model_id;  // "" allocates a numeric id
  std::string display_name;
  std::string description;
  std::map<std::string, std::string> labels;
};

// The fields of a new version.
struct NewModelVersion {
  std::string version_description;
  std::string artifact_uri;
  ContainerSpec container_spec;
  std::string runtime;
  ArtifactManifest artifact;
  std::map<std::string, std::string> labels;  // version labels
  std::vector<std::string> aliases;           // moved here from other versions that hold them
  absl::Time create_time;
};

// UpdateModelFields: fields left nullopt are unchanged. Model-level fields apply when the name
// has no version (or "@-"); version-level fields when it names a version.
struct ModelFieldsUpdate {
  std::optional<std::string> display_name;                   // model-level
  std::optional<std::string> description;                    // model-level
  std::optional<std::string> version_description;            // version-level
  std::optional<std::map<std::string, std::string>> labels;  // model or version labels
};

struct ListArgs {
  ListFilter filter;
  int32_t page_size = 100;  // already validated (registry/list_query.h EffectivePageSize)
  std::string page_token;
};

class MetadataTxn {
 public:
  virtual ~MetadataTxn() = default;

  // ---- Models ----
  // Creates a model with version 1, which gets the `default` alias plus `version.aliases`.
  // ALREADY_EXISTS if `model.model_id` is taken in `parent`.
  virtual absl::StatusOr<Model> CreateModel(const LocationName& parent, const NewModel& model,
                                            const NewModelVersion& version) = 0;
  // Adds the next version (ids are never reused) to an existing model; `version.aliases` move
  // here from the versions holding them (`default` included). NOT_FOUND for an unknown model.
  virtual absl::StatusOr<Model> AddModelVersion(const ModelName& model,
                                                const NewModelVersion& version) = 0;
  // The version named by `name.version`: "" or "-" the default version, digits a version id,
  // anything else an alias.
  virtual absl::StatusOr<Model> GetModel(const ModelName& name) = 0;
  // Each model at its default version, in creation order. Filters apply to the model's display
  // name and the merged labels of the default version.
  virtual absl::StatusOr<ListPage<Model>> ListModels(const LocationName& parent,
                                                     const ListArgs& args) = 0;
  // Every version of one model, by version id.
  virtual absl::StatusOr<ListPage<Model>> ListModelVersions(const ModelName& model,
                                                            const ListArgs& args) = 0;
  // Moves each alias of `add` to the named version and removes each alias of `remove` from it
  // (an alias it does not hold is ignored). The caller enforces the rules about `default`.
  virtual absl::StatusOr<Model> UpdateVersionAliases(const ModelName& version,
                                                     const std::vector<std::string>& add,
                                                     const std::vector<std::string>& remove,
                                                     absl::Time now) = 0;
  virtual absl::StatusOr<Model> UpdateModelFields(const ModelName& name,
                                                  const ModelFieldsUpdate& update,
                                                  absl::Time now) = 0;
  // Deletes the model with all its versions. FAILED_PRECONDITION while any version is deployed.
  virtual absl::Status DeleteModel(const ModelName& model) = 0;
  // Deletes one version (name.version must be a version id). FAILED_PRECONDITION while deployed.
  virtual absl::Status DeleteModelVersion(const ModelName& version, absl::Time now) = 0;
  // Every (model, version) in the store, as names with a version id (folder sweep at startup).
  virtual absl::StatusOr<std::vector<ModelName>> ListAllModelVersions() = 0;
  // Digests of every blob a version references.
  virtual absl::StatusOr<std::set<std::string>> ReferencedBlobDigests() = 0;

  // ---- Endpoints ----
  // Creates an endpoint with `fields`' display_name, description and labels.
  // `endpoint_id` "" allocates a numeric id. ALREADY_EXISTS if taken.
  virtual absl::StatusOr<Endpoint> CreateEndpoint(const LocationName& parent,
                                                  const std::string& endpoint_id,
                                                  const Endpoint& fields, absl::Time now) = 0;
  virtual absl::StatusOr<Endpoint> GetEndpoint(const EndpointName& name) = 0;
  virtual absl::StatusOr<ListPage<Endpoint>> ListEndpoints(const LocationName& parent,
                                                           const ListArgs& args) = 0;
  // Every endpoint of every project and location (routing snapshots, recovery).
  virtual absl::StatusOr<std::vector<Endpoint>> ListAllEndpoints() = 0;
  // Writes `endpoint`'s display_name, description, labels and traffic_split, and the mutable
  // fields (state, desired_replica_count) of its deployed models, which must exist already.
  // Advances etag and update_time. Split keys must be ids of this endpoint's deployed models.
  virtual absl::StatusOr<Endpoint> UpdateEndpoint(const Endpoint& endpoint, absl::Time now) = 0;
  // Inserts `deployed_model` and returns its id: deployed_model.id when set (a canonical decimal
  // number, see ValidateDeployedModelId; ALREADY_EXISTS when a deployed model of any endpoint has
  // it: the data plane names replicas by it), else a newly allocated one. The model version
  // (deployed_model.model + model_version_id) must exist: NOT_FOUND otherwise.
  virtual absl::StatusOr<std::string> AddDeployedModel(const EndpointName& endpoint,
                                                       const DeployedModel& deployed_model,
                                                       absl::Time now) = 0;
  // Removes a deployed model and its traffic split entry.
  virtual absl::Status RemoveDeployedModel(const EndpointName& endpoint,
                                           const std::string& deployed_model_id,
                                           absl::Time now) = 0;
  // FAILED_PRECONDITION while models are deployed.
  virtual absl::Status DeleteEndpoint(const EndpointName& name) = 0;
  // Sets (or, with nullopt, removes) the endpoint's rate limit; advances etag and update_time.
  virtual absl::StatusOr<Endpoint> SetEndpointRateLimit(const EndpointName& name,
                                                        const std::optional<RateLimit>& limit,
                                                        absl::Time now) = 0;

  // ---- API keys (auth/key_service.h) and project quotas (control/quota.h) ----
  // ALREADY_EXISTS when the key id is taken.
  virtual absl::Status CreateApiKey(const ApiKeyRecord& key) = 0;
  // Every key, revoked and expired ones included, by creation.
  virtual absl::StatusOr<std::vector<ApiKeyRecord>> ListApiKeys() = 0;
  // Writes display_name, expire_time, revoke_time and rate_limit of an existing key (the id,
  // role, scope and hash never change). NOT_FOUND for an unknown id.
  virtual absl::Status UpdateApiKey(const ApiKeyRecord& key) = 0;
  // The project's quota; every limit -1 (none) when none was set.
  virtual absl::StatusOr<ProjectQuota> GetProjectQuota(const std::string& project) = 0;
  virtual absl::Status SetProjectQuota(const ProjectQuota& quota) = 0;

  // ---- Operations ----
  // Inserts `op` (name ignored, id allocated) under `parent`; returns it with its name.
  virtual absl::StatusOr<Operation> CreateOperation(const LocationName& parent,
                                                    const Operation& op) = 0;
  virtual absl::StatusOr<Operation> GetOperation(const OperationName& name) = 0;
  // Newest first.
  virtual absl::StatusOr<ListPage<Operation>> ListOperations(const LocationName& parent,
                                                             const ListArgs& args) = 0;
  // Records progress of an unfinished operation (no-op once done).
  virtual absl::Status UpdateOperationProgress(const OperationName& name, int32_t percent,
                                               const std::string& stage, absl::Time now) = 0;
  // Marks an unfinished operation done with `error` (OK: success with `result`). Returns false,
  // changing nothing, when it was already done (first completion wins).
  virtual absl::StatusOr<bool> CompleteOperation(const OperationName& name,
                                                 const absl::Status& error,
                                                 const OperationResult& result, absl::Time now) = 0;
  virtual absl::Status DeleteOperation(const OperationName& name) = 0;
  // Completes every unfinished operation with `error`; returns how many (startup recovery).
  virtual absl::StatusOr<int> FailUnfinishedOperations(const absl::Status& error,
                                                       absl::Time now) = 0;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // Runs `fn` in one transaction: commits if it returns OK, rolls back otherwise, and returns
  // its status (or the commit's failure).
  virtual absl::Status Transact(const std::function<absl::Status(MetadataTxn&)>& fn) = 0;

  // Convenience: a transaction that computes a value.
  template <typename T>
  absl::StatusOr<T> TransactValue(const std::function<absl::StatusOr<T>(MetadataTxn&)>& fn) {
    std::optional<T> value;
    absl::Status status = Transact([&](MetadataTxn& txn) -> absl::Status {
      absl::StatusOr<T> result = fn(txn);
      if (!result.ok()) return result.status();
      value = std::move(result).value();
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return std::move(*value);
  }
};

}  // namespace tessera::registry
