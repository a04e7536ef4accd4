// SqliteTxn: API keys and project quotas (migration 5).
#include <optional>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "registry/sqlite/sqlite_txn.h"

namespace tessera::registry::sqlite {
namespace {

std::string ListJson(const std::vector<std::string>& items) { return nlohmann::json(items).dump(); }

absl::StatusOr<std::vector<std::string>> ParseList(const std::string& text,
                                                   std::string_view column) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) {
    return absl::InternalError(fmt::format("corrupt api_keys.{} in the metadata database", column));
  }
  std::vector<std::string> out;
  for (const nlohmann::json& item : j) {
    if (!item.is_string()) {
      return absl::InternalError(
          fmt::format("corrupt api_keys.{} in the metadata database", column));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

// NULL for "never" (InfiniteFuture).
void BindOptionalTime(Statement& stmt, int index, absl::Time t) {
  if (t == absl::InfiniteFuture()) {
    stmt.BindNull(index);
  } else {
    stmt.Bind(index, ToMicros(t));
  }
}

absl::Time ReadOptionalTime(const Statement& stmt, int column) {
  return stmt.IsNull(column) ? absl::InfiniteFuture() : FromMicros(stmt.Int(column));
}

}  // namespace

void BindRateLimit(Statement& stmt, int rps_index, const std::optional<RateLimit>& limit) {
  if (limit) {
    stmt.Bind(rps_index, limit->requests_per_second).Bind(rps_index + 1, limit->burst);
  } else {
    stmt.BindNull(rps_index).BindNull(rps_index + 1);
  }
}

std::optional<RateLimit> ReadRateLimit(const Statement& stmt, int rps_column) {
  if (stmt.IsNull(rps_column) || stmt.IsNull(rps_column + 1)) return std::nullopt;
  return RateLimit{.requests_per_second = stmt.Double(rps_column),
                   .burst = stmt.Int(rps_column + 1)};
}

absl::Status SqliteTxn::CreateApiKey(const ApiKeyRecord& key) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare(
          "INSERT INTO api_keys (key_id, display_name, role, projects, endpoints, salt, "
          "secret_hash, created_by, create_time_us, expire_time_us, revoke_time_us, "
          "rate_limit_rps, rate_limit_burst) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt.Bind(1, key.key_id).Bind(2, key.display_name).Bind(3, key.role);
  stmt.Bind(4, ListJson(key.projects)).Bind(5, ListJson(key.endpoints));
  stmt.Bind(6, key.salt).Bind(7, key.secret_hash).Bind(8, key.created_by);
  stmt.Bind(9, ToMicros(key.create_time));
  BindOptionalTime(stmt, 10, key.expire_time);
  BindOptionalTime(stmt, 11, key.revoke_time);
  BindRateLimit(stmt, 12, key.rate_limit);
  absl::Status status = stmt.Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(fmt::format("API key {} already exists", key.key_id));
  }
  return status;
}

absl::StatusOr<std::vector<ApiKeyRecord>> SqliteTxn::ListApiKeys() {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare("SELECT key_id, display_name, role, projects, endpoints, salt, secret_hash, "
                  "created_by, create_time_us, expire_time_us, revoke_time_us, rate_limit_rps, "
                  "rate_limit_burst FROM api_keys ORDER BY create_time_us, key_id"));
  std::vector<ApiKeyRecord> keys;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ApiKeyRecord key;
    key.key_id = stmt.Text(0);
    key.display_name = stmt.Text(1);
    key.role = stmt.Text(2);
    ASSIGN_OR_RETURN(key.projects, ParseList(stmt.Text(3), "projects"));
    ASSIGN_OR_RETURN(key.endpoints, ParseList(stmt.Text(4), "endpoints"));
    key.salt = stmt.Text(5);
    key.secret_hash = stmt.Text(6);
    key.created_by = stmt.Text(7);
    key.create_time = FromMicros(stmt.Int(8));
    key.expire_time = ReadOptionalTime(stmt, 9);
    key.revoke_time = ReadOptionalTime(stmt, 10);
    key.rate_limit = ReadRateLimit(stmt, 11);
    keys.push_back(std::move(key));
  }
  return keys;
}

absl::Status SqliteTxn::UpdateApiKey(const ApiKeyRecord& key) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare("UPDATE api_keys SET display_name = ?, expire_time_us = ?, revoke_time_us = ?, "
                  "rate_limit_rps = ?, rate_limit_burst = ? WHERE key_id = ?"));
  stmt.Bind(1, key.display_name);
  BindOptionalTime(stmt, 2, key.expire_time);
  BindOptionalTime(stmt, 3, key.revoke_time);
  BindRateLimit(stmt, 4, key.rate_limit);
  stmt.Bind(6, key.key_id);
  RETURN_IF_ERROR(stmt.Run());
  if (db_.Changes() != 1)
    return absl::NotFoundError(fmt::format("API key {} not found", key.key_id));
  return absl::OkStatus();
}

absl::StatusOr<ProjectQuota> SqliteTxn::GetProjectQuota(const std::string& project) {
  ASSIGN_OR_RETURN(auto stmt,
                   db_.Prepare("SELECT max_endpoints, max_deployed_models, max_replicas, "
                               "max_cpu_cores FROM project_quotas WHERE project = ?"));
  stmt.Bind(1, project);
  ProjectQuota quota;
  quota.project = project;
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (row) {
    quota.max_endpoints = stmt.Int(0);
    quota.max_deployed_models = stmt.Int(1);
    quota.max_replicas = stmt.Int(2);
    quota.max_cpu_cores = stmt.Int(3);
  }
  return quota;
}

absl::Status SqliteTxn::SetProjectQuota(const ProjectQuota& quota) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare("INSERT INTO project_quotas (project, max_endpoints, max_deployed_models, "
                  "max_replicas, max_cpu_cores) VALUES (?, ?, ?, ?, ?) ON CONFLICT (project) DO "
                  "UPDATE SET max_endpoints = excluded.max_endpoints, max_deployed_models = "
                  "excluded.max_deployed_models, max_replicas = excluded.max_replicas, "
                  "max_cpu_cores = excluded.max_cpu_cores"));
  stmt.Bind(1, quota.project).Bind(2, quota.max_endpoints).Bind(3, quota.max_deployed_models);
  stmt.Bind(4, quota.max_replicas).Bind(5, quota.max_cpu_cores);
  return stmt.Run();
}

}  // namespace tessera::registry::sqlite
