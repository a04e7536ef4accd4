#include "registry/sqlite/migrations.h"

namespace tessera::registry::sqlite {
namespace {

// Version 1: the model registry and operations.
constexpr std::string_view kRegistry = R"sql(
CREATE TABLE models (
  pk INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL,
  location TEXT NOT NULL,
  model_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  next_version INTEGER NOT NULL DEFAULT 1,
  generation INTEGER NOT NULL DEFAULT 1,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  UNIQUE (project, location, model_id)
);
CREATE TABLE model_versions (
  model_pk INTEGER NOT NULL REFERENCES models(pk) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  version_description TEXT NOT NULL DEFAULT '',
  artifact_uri TEXT NOT NULL,
  container_spec TEXT NOT NULL,
  runtime TEXT NOT NULL,
  artifact_digest TEXT NOT NULL,
  generation INTEGER NOT NULL DEFAULT 1,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  PRIMARY KEY (model_pk, version)
);
CREATE TABLE model_version_aliases (
  model_pk INTEGER NOT NULL,
  version INTEGER NOT NULL,
  alias TEXT NOT NULL,
  PRIMARY KEY (model_pk, alias),
  FOREIGN KEY (model_pk, version) REFERENCES model_versions(model_pk, version) ON DELETE CASCADE
);
CREATE TABLE model_labels (
  model_pk INTEGER NOT NULL REFERENCES models(pk) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (model_pk, version, key)
);
CREATE TABLE artifact_files (
  model_pk INTEGER NOT NULL,
  version INTEGER NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  PRIMARY KEY (model_pk, version, path),
  FOREIGN KEY (model_pk, version) REFERENCES model_versions(model_pk, version) ON DELETE CASCADE
);
CREATE INDEX artifact_files_by_sha256 ON artifact_files(sha256);
CREATE TABLE operations (
  pk INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL,
  location TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  error_code INTEGER NOT NULL DEFAULT 0,
  error_message TEXT NOT NULL DEFAULT '',
  result_model TEXT NOT NULL DEFAULT '',
  result_model_version_id TEXT NOT NULL DEFAULT '',
  result_endpoint TEXT NOT NULL DEFAULT '',
  result_deployed_model_id TEXT NOT NULL DEFAULT '',
  progress_percent INTEGER NOT NULL DEFAULT 0,
  stage TEXT NOT NULL DEFAULT '',
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL
);
)sql";

// Version 2: endpoints, deployed models and traffic splits. A deployed model pins its model
// version (ON DELETE RESTRICT), so a deployed version cannot be deleted even by a bug upstream.
constexpr std::string_view kEndpoints = R"sql(
CREATE TABLE endpoints (
  pk INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL,
  location TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  generation INTEGER NOT NULL DEFAULT 1,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  UNIQUE (project, location, endpoint_id)
);
CREATE TABLE endpoint_labels (
  endpoint_pk INTEGER NOT NULL REFERENCES endpoints(pk) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (endpoint_pk, key)
);
CREATE TABLE deployed_models (
  pk INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint_pk INTEGER NOT NULL REFERENCES endpoints(pk) ON DELETE RESTRICT,
  model_pk INTEGER NOT NULL,
  version INTEGER NOT NULL,
  display_name TEXT NOT NULL,
  resources TEXT NOT NULL,
  serving TEXT NOT NULL,
  desired_replica_count INTEGER NOT NULL,
  state TEXT NOT NULL,
  create_time_us INTEGER NOT NULL,
  FOREIGN KEY (model_pk, version) REFERENCES model_versions(model_pk, version) ON DELETE RESTRICT
);
CREATE INDEX deployed_models_by_version ON deployed_models(model_pk, version);
CREATE INDEX deployed_models_by_endpoint ON deployed_models(endpoint_pk);
CREATE TABLE traffic_split (
  endpoint_pk INTEGER NOT NULL REFERENCES endpoints(pk) ON DELETE CASCADE,
  deployed_model_pk INTEGER NOT NULL REFERENCES deployed_models(pk) ON DELETE CASCADE,
  percent INTEGER NOT NULL CHECK (percent >= 0 AND percent <= 100),
  PRIMARY KEY (endpoint_pk, deployed_model_pk)
);
)sql";

// Version 3: indexes for listing operations and finding unfinished ones at startup.
constexpr std::string_view kOperationIndexes = R"sql(
CREATE INDEX operations_by_parent ON operations(project, location, pk);
CREATE INDEX operations_by_done ON operations(done);
)sql";

// Version 4: Endpoint.clientConnectionConfig.inferenceTimeout (0: not set).
constexpr std::string_view kEndpointInferenceTimeout = R"sql(
ALTER TABLE endpoints ADD COLUMN inference_timeout_us INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 5: API keys (only salted, peppered hashes of their secrets), per-project quotas and
// per-endpoint rate limits (auth/, control/quota.h). An endpoint's limit dies with its row.
constexpr std::string_view kAccess = R"sql(
CREATE TABLE api_keys (
  key_id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL,
  projects TEXT NOT NULL,
  endpoints TEXT NOT NULL,
  salt TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  create_time_us INTEGER NOT NULL,
  expire_time_us INTEGER,
  revoke_time_us INTEGER,
  rate_limit_rps REAL,
  rate_limit_burst INTEGER
);
CREATE TABLE project_quotas (
  project TEXT PRIMARY KEY,
  max_endpoints INTEGER NOT NULL DEFAULT -1,
  max_deployed_models INTEGER NOT NULL DEFAULT -1,
  max_replicas INTEGER NOT NULL DEFAULT -1,
  max_cpu_cores INTEGER NOT NULL DEFAULT -1
);
ALTER TABLE endpoints ADD COLUMN rate_limit_rps REAL;
ALTER TABLE endpoints ADD COLUMN rate_limit_burst INTEGER;
)sql";

// Version 6: Endpoint.predictRequestResponseLoggingConfig.
constexpr char kPayloadLogging[] = R"sql(
ALTER TABLE endpoints ADD COLUMN payload_logging_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN payload_sampling_rate REAL NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN payload_store_images INTEGER NOT NULL DEFAULT 0;
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "model registry and operations", kRegistry},
      {2, "endpoints, deployed models, traffic splits", kEndpoints},
      {3, "operation indexes", kOperationIndexes},
      {4, "endpoint inference timeout", kEndpointInferenceTimeout},
      {5, "api keys, project quotas, endpoint rate limits", kAccess},
      {6, "endpoint request-response logging", kPayloadLogging},
  };
  return kMigrations;
}

int LatestSchemaVersion() { return Migrations().back().version; }

}  // namespace tessera::registry::sqlite
