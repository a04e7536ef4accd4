// MetadataTxn over an open SQLite transaction (internal to SqliteMetadataStore). The methods are
// split by resource: sqlite_txn_models.cc, sqlite_txn_endpoints.cc, sqlite_txn_operations.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "registry/metadata_store.h"
#include "registry/sqlite/sqlite_db.h"

namespace tessera::registry::sqlite {

class SqliteTxn final : public MetadataTxn {
 public:
  explicit SqliteTxn(Database& db) : db_(db) {}

  // Models (sqlite_txn_models.cc)
  absl::StatusOr<Model> CreateModel(const LocationName& parent, const NewModel& model,
                                    const NewModelVersion& version) override;
  absl::StatusOr<Model> AddModelVersion(const ModelName& model,
                                        const NewModelVersion& version) override;
  absl::StatusOr<Model> GetModel(const ModelName& name) override;
  absl::StatusOr<ListPage<Model>> ListModels(const LocationName& parent,
                                             const ListArgs& args) override;
  absl::StatusOr<ListPage<Model>> ListModelVersions(const ModelName& model,
                                                    const ListArgs& args) override;
  absl::StatusOr<Model> UpdateVersionAliases(const ModelName& version,
                                             const std::vector<std::string>& add,
                                             const std::vector<std::string>& remove,
                                             absl::Time now) override;
  absl::StatusOr<Model> UpdateModelFields(const ModelName& name, const ModelFieldsUpdate& update,
                                          absl::Time now) override;
  absl::Status DeleteModel(const ModelName& model) override;
  absl::Status DeleteModelVersion(const ModelName& version, absl::Time now) override;
  absl::StatusOr<std::vector<ModelName>> ListAllModelVersions() override;
  absl::StatusOr<std::set<std::string>> ReferencedBlobDigests() override;

  // Endpoints (sqlite_txn_endpoints.cc)
  absl::StatusOr<Endpoint> CreateEndpoint(const LocationName& parent,
                                          const std::string& endpoint_id, const Endpoint& fields,
                                          absl::Time now) override;
  absl::StatusOr<Endpoint> GetEndpoint(const EndpointName& name) override;
  absl::StatusOr<ListPage<Endpoint>> ListEndpoints(const LocationName& parent,
                                                   const ListArgs& args) override;
  absl::StatusOr<std::vector<Endpoint>> ListAllEndpoints() override;
  absl::StatusOr<Endpoint> UpdateEndpoint(const Endpoint& endpoint, absl::Time now) override;
  absl::StatusOr<std::string> AddDeployedModel(const EndpointName& endpoint,
                                               const DeployedModel& deployed_model,
                                               absl::Time now) override;
  absl::Status RemoveDeployedModel(const EndpointName& endpoint,
                                   const std::string& deployed_model_id, absl::Time now) override;
  absl::Status DeleteEndpoint(const EndpointName& name) override;
  absl::StatusOr<Endpoint> SetEndpointRateLimit(const EndpointName& name,
                                                const std::optional<RateLimit>& limit,
                                                absl::Time now) override;

  // API keys and quotas (sqlite_txn_access.cc)
  absl::Status CreateApiKey(const ApiKeyRecord& key) override;
  absl::StatusOr<std::vector<ApiKeyRecord>> ListApiKeys() override;
  absl::Status UpdateApiKey(const ApiKeyRecord& key) override;
  absl::StatusOr<ProjectQuota> GetProjectQuota(const std::string& project) override;
  absl::Status SetProjectQuota(const ProjectQuota& quota) override;

  // Operations (sqlite_txn_operations.cc)
  absl::StatusOr<Operation> CreateOperation(const LocationName& parent,
                                            const Operation& op) override;
  absl::StatusOr<Operation> GetOperation(const OperationName& name) override;
  absl::StatusOr<ListPage<Operation>> ListOperations(const LocationName& parent,
                                                     const ListArgs& args) override;
  absl::Status UpdateOperationProgress(const OperationName& name, int32_t percent,
                                       const std::string& stage, absl::Time now) override;
  absl::StatusOr<bool> CompleteOperation(const OperationName& name, const absl::Status& error,
                                         const OperationResult& result, absl::Time now) override;
  absl::Status DeleteOperation(const OperationName& name) override;
  absl::StatusOr<int> FailUnfinishedOperations(const absl::Status& error, absl::Time now) override;

 private:
  // Models
  absl::StatusOr<int64_t> ModelPk(const ModelName& name);
  // Resolves name.version ("" / "-" / id / alias) to a version number of model `pk`.
  absl::StatusOr<int64_t> ResolveVersion(int64_t pk, const ModelName& name);
  absl::StatusOr<Model> LoadModel(int64_t pk, int64_t version);
  absl::Status InsertVersion(int64_t pk, int64_t version, const NewModelVersion& v);
  absl::Status MoveAliases(int64_t pk, int64_t version, const std::vector<std::string>& aliases,
                           absl::Time now);
  absl::Status TouchVersion(int64_t pk, int64_t version, absl::Time now);
  absl::Status TouchModel(int64_t pk, absl::Time now);
  absl::Status RefuseIfDeployed(int64_t pk, const int64_t* version, const std::string& what);
  absl::StatusOr<ListPage<Model>> ListModelRows(const std::string& sql_prefix, int64_t bind_pk,
                                                const ListArgs& args, const char* kind,
                                                bool key_is_version);

  // Endpoints
  absl::StatusOr<int64_t> EndpointPk(const EndpointName& name);
  absl::StatusOr<Endpoint> LoadEndpoint(int64_t pk);
  absl::Status TouchEndpoint(int64_t pk, absl::Time now);

  Database& db_;
};

// Shared helpers for the SQL of the files.
inline int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }
inline absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }
// Binds `limit` to parameters `rps_index` and `rps_index + 1` (NULLs for none).
void BindRateLimit(Statement& stmt, int rps_index, const std::optional<RateLimit>& limit);
// The limit in columns `rps_column` and `rps_column + 1`; none when NULL.
std::optional<RateLimit> ReadRateLimit(const Statement& stmt, int rps_column);

}  // namespace tessera::registry::sqlite
