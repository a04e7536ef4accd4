// SqliteTxn: models, versions, aliases, labels and artifact manifests.
#include <algorithm>
#include <charconv>
#include <set>
#include <variant>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "registry/sqlite/record_codec.h"
#include "registry/sqlite/sqlite_txn.h"

namespace tessera::registry::sqlite {
namespace {

using Param = std::variant<int64_t, std::string>;

void BindAll(Statement& stmt, const std::vector<Param>& params) {
  int i = 1;
  for (const Param& p : params) {
    if (std::holds_alternative<int64_t>(p)) {
      stmt.Bind(i++, std::get<int64_t>(p));
    } else {
      stmt.Bind(i++, std::get<std::string>(p));
    }
  }
}

// SQL conditions for a model list filter; `m` is the models table, `version_expr` the listed
// version. Labels are matched on their effective (merged) value: a version label wins.
std::string ModelFilterSql(const ListFilter& filter, std::string_view version_expr,
                           std::vector<Param>& params) {
  std::string sql;
  if (filter.display_name) {
    sql += " AND m.display_name = ?";
    params.emplace_back(*filter.display_name);
  }
  for (const LabelCondition& c : filter.labels) {
    if (c.value) {
      sql += fmt::format(
          " AND (SELECT l.value FROM model_labels l WHERE l.model_pk = m.pk AND l.version IN (0, "
          "{}) AND l.key = ? ORDER BY l.version DESC LIMIT 1) = ?",
          version_expr);
      params.emplace_back(c.key);
      params.emplace_back(*c.value);
    } else {
      sql += fmt::format(
          " AND EXISTS (SELECT 1 FROM model_labels l WHERE l.model_pk = m.pk AND l.version IN (0, "
          "{}) AND l.key = ?)",
          version_expr);
      params.emplace_back(c.key);
    }
  }
  return sql;
}

bool ParseVersionId(std::string_view s, int64_t& out) {
  if (!IsNumericId(s)) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

absl::Status InsertLabels(Database& db, int64_t pk, int64_t version,
                          const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : labels) {
    ASSIGN_OR_RETURN(
        auto stmt,
        db.Prepare("INSERT INTO model_labels (model_pk, version, key, value) VALUES (?, ?, ?, ?)"));
    stmt.Bind(1, pk).Bind(2, version).Bind(3, key).Bind(4, value);
    RETURN_IF_ERROR(stmt.Run());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> SqliteTxn::ModelPk(const ModelName& name) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare("SELECT pk FROM models WHERE project = ? AND location = ? AND model_id = ?"));
  stmt.Bind(1, name.parent.project).Bind(2, name.parent.location).Bind(3, name.model_id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::NotFoundError(fmt::format("model {} not found", name.ToString()));
  return stmt.Int(0);
}

absl::StatusOr<int64_t> SqliteTxn::ResolveVersion(int64_t pk, const ModelName& name) {
  int64_t version = 0;
  if (ParseVersionId(name.version, version)) {
    ASSIGN_OR_RETURN(
        auto stmt, db_.Prepare("SELECT 1 FROM model_versions WHERE model_pk = ? AND version = ?"));
    stmt.Bind(1, pk).Bind(2, version);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      return absl::NotFoundError(
          fmt::format("model {} has no version {}", name.ToString(), name.version));
    }
    return version;
  }
  std::string alias = (name.version.empty() || name.version == "-") ? "default" : name.version;
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare("SELECT version FROM model_version_aliases WHERE model_pk = ? AND alias = ?"));
  stmt.Bind(1, pk).Bind(2, alias);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return absl::NotFoundError(
        fmt::format("model {} has no version with alias \"{}\"", name.ToString(), alias));
  }
  return stmt.Int(0);
}

absl::StatusOr<Model> SqliteTxn::LoadModel(int64_t pk, int64_t version) {
  Model m;
  int64_t model_generation = 0, version_generation = 0;
  absl::Time model_update, version_update;
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare(
            "SELECT m.project, m.location, m.model_id, m.display_name, m.description, "
            "m.generation, "
            "m.create_time_us, m.update_time_us, v.version_description, v.artifact_uri, "
            "v.container_spec, v.runtime, v.artifact_digest, v.generation, v.create_time_us, "
            "v.update_time_us FROM models m JOIN model_versions v ON v.model_pk = m.pk "
            "WHERE m.pk = ? AND v.version = ?"));
    stmt.Bind(1, pk).Bind(2, version);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return absl::NotFoundError(fmt::format("model version {}/{} not found", pk, version));
    m.name = ModelName{{stmt.Text(0), stmt.Text(1)}, stmt.Text(2), ""}.ToString();
    m.display_name = stmt.Text(3);
    m.description = stmt.Text(4);
    model_generation = stmt.Int(5);
    m.create_time = FromMicros(stmt.Int(6));
    model_update = FromMicros(stmt.Int(7));
    m.version_description = stmt.Text(8);
    m.artifact_uri = stmt.Text(9);
    ASSIGN_OR_RETURN(m.container_spec, DecodeContainerSpec(stmt.Text(10)));
    m.runtime = stmt.Text(11);
    m.artifact_digest = stmt.Text(12);
    version_generation = stmt.Int(13);
    m.version_create_time = FromMicros(stmt.Int(14));
    version_update = FromMicros(stmt.Int(15));
  }
  m.version_id = std::to_string(version);
  m.version_update_time = version_update;
  m.update_time = std::max(model_update, version_update);
  m.etag = fmt::format("{}.{}.{}", pk, model_generation, version_generation);
  {
    ASSIGN_OR_RETURN(auto stmt, db_.Prepare("SELECT alias FROM model_version_aliases WHERE "
                                            "model_pk = ? AND version = ? ORDER BY alias"));
    stmt.Bind(1, pk).Bind(2, version);
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      m.version_aliases.push_back(stmt.Text(0));
    }
  }
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare("SELECT key, value FROM model_labels WHERE model_pk = ? AND version IN (0, ?) "
                    "ORDER BY version"));
    stmt.Bind(1, pk).Bind(2, version);
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      m.labels[stmt.Text(0)] = stmt.Text(1);  // version labels come last and win
    }
  }
  {
    ASSIGN_OR_RETURN(auto stmt, db_.Prepare("SELECT path, sha256, size_bytes FROM artifact_files "
                                            "WHERE model_pk = ? AND version = ? "
                                            "ORDER BY path"));
    stmt.Bind(1, pk).Bind(2, version);
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      m.artifact.files.push_back({stmt.Text(0), stmt.Text(1), stmt.Int(2)});
    }
  }
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare(
            "SELECT e.project, e.location, e.endpoint_id, d.pk FROM deployed_models d "
            "JOIN endpoints e ON e.pk = d.endpoint_pk WHERE d.model_pk = ? AND d.version = ? "
            "ORDER BY d.pk"));
    stmt.Bind(1, pk).Bind(2, version);
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      m.deployed_models.push_back(
          {EndpointName{{stmt.Text(0), stmt.Text(1)}, stmt.Text(2)}.ToString(),
           std::to_string(stmt.Int(3))});
    }
  }
  return m;
}

absl::Status SqliteTxn::InsertVersion(int64_t pk, int64_t version, const NewModelVersion& v) {
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare(
            "INSERT INTO model_versions (model_pk, version, version_description, artifact_uri, "
            "container_spec, runtime, artifact_digest, create_time_us, update_time_us) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    stmt.Bind(1, pk).Bind(2, version).Bind(3, v.version_description).Bind(4, v.artifact_uri);
    stmt.Bind(5, EncodeContainerSpec(v.container_spec)).Bind(6, v.runtime);
    stmt.Bind(7, v.artifact.Digest())
        .Bind(8, ToMicros(v.create_time))
        .Bind(9, ToMicros(v.create_time));
    RETURN_IF_ERROR(stmt.Run());
  }
  for (const ArtifactFile& f : v.artifact.files) {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare("INSERT INTO artifact_files (model_pk, version, path, sha256, size_bytes) "
                    "VALUES (?, ?, ?, ?, ?)"));
    stmt.Bind(1, pk).Bind(2, version).Bind(3, f.path).Bind(4, f.sha256).Bind(5, f.size_bytes);
    RETURN_IF_ERROR(stmt.Run());
  }
  RETURN_IF_ERROR(InsertLabels(db_, pk, version, v.labels));
  return MoveAliases(pk, version, v.aliases, v.create_time);
}

absl::Status SqliteTxn::MoveAliases(int64_t pk, int64_t version,
                                    const std::vector<std::string>& aliases, absl::Time now) {
  for (const std::string& alias : aliases) {
    ASSIGN_OR_RETURN(
        auto find,
        db_.Prepare("SELECT version FROM model_version_aliases WHERE model_pk = ? AND alias = ?"));
    find.Bind(1, pk).Bind(2, alias);
    ASSIGN_OR_RETURN(bool row, find.Step());
    if (row) {
      int64_t holder = find.Int(0);
      if (holder == version) continue;
      ASSIGN_OR_RETURN(
          auto del,
          db_.Prepare("DELETE FROM model_version_aliases WHERE model_pk = ? AND alias = ?"));
      del.Bind(1, pk).Bind(2, alias);
      RETURN_IF_ERROR(del.Run());
      RETURN_IF_ERROR(TouchVersion(pk, holder, now));
    }
    ASSIGN_OR_RETURN(
        auto insert,
        db_.Prepare(
            "INSERT INTO model_version_aliases (model_pk, version, alias) VALUES (?, ?, ?)"));
    insert.Bind(1, pk).Bind(2, version).Bind(3, alias);
    RETURN_IF_ERROR(insert.Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteTxn::TouchVersion(int64_t pk, int64_t version, absl::Time now) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare("UPDATE model_versions SET generation = generation + 1, update_time_us = ? "
                  "WHERE model_pk = ? AND version = ?"));
  stmt.Bind(1, ToMicros(now)).Bind(2, pk).Bind(3, version);
  return stmt.Run();
}

absl::Status SqliteTxn::TouchModel(int64_t pk, absl::Time now) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare(
          "UPDATE models SET generation = generation + 1, update_time_us = ? WHERE pk = ?"));
  stmt.Bind(1, ToMicros(now)).Bind(2, pk);
  return stmt.Run();
}

absl::StatusOr<Model> SqliteTxn::CreateModel(const LocationName& parent, const NewModel& model,
                                             const NewModelVersion& version) {
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare(
            "INSERT INTO models (project, location, model_id, display_name, description, "
            "next_version, create_time_us, update_time_us) VALUES (?, ?, ?, ?, ?, 2, ?, ?)"));
    // A numeric id is the row's own key: insert a placeholder, then set it.
    std::string id = model.model_id.empty() ? "#allocating" : model.model_id;
    stmt.Bind(1, parent.project).Bind(2, parent.location).Bind(3, id);
    stmt.Bind(4, model.display_name).Bind(5, model.description);
    stmt.Bind(6, ToMicros(version.create_time)).Bind(7, ToMicros(version.create_time));
    absl::Status status = stmt.Run();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          fmt::format("model {} already exists", ModelName{parent, model.model_id, ""}.ToString()));
    }
    RETURN_IF_ERROR(status);
  }
  int64_t pk = db_.LastInsertRowId();
  if (model.model_id.empty()) {
    ASSIGN_OR_RETURN(auto stmt, db_.Prepare("UPDATE models SET model_id = ? WHERE pk = ?"));
    stmt.Bind(1, std::to_string(pk)).Bind(2, pk);
    RETURN_IF_ERROR(stmt.Run());
  }
  RETURN_IF_ERROR(InsertLabels(db_, pk, 0, model.labels));
  NewModelVersion first = version;
  if (std::find(first.aliases.begin(), first.aliases.end(), "default") == first.aliases.end()) {
    first.aliases.insert(first.aliases.begin(), "default");
  }
  RETURN_IF_ERROR(InsertVersion(pk, 1, first));
  return LoadModel(pk, 1);
}

absl::StatusOr<Model> SqliteTxn::AddModelVersion(const ModelName& model,
                                                 const NewModelVersion& version) {
  ASSIGN_OR_RETURN(int64_t pk, ModelPk(model));
  ASSIGN_OR_RETURN(auto next, db_.Prepare("SELECT next_version FROM models WHERE pk = ?"));
  next.Bind(1, pk);
  ASSIGN_OR_RETURN(bool row, next.Step());
  if (!row) return absl::NotFoundError(fmt::format("model {} not found", model.ToString()));
  int64_t number = next.Int(0);
  RETURN_IF_ERROR(InsertVersion(pk, number, version));
  ASSIGN_OR_RETURN(
      auto bump,
      db_.Prepare(
          "UPDATE models SET next_version = ?, generation = generation + 1, update_time_us = ? "
          "WHERE pk = ?"));
  bump.Bind(1, number + 1).Bind(2, ToMicros(version.create_time)).Bind(3, pk);
  RETURN_IF_ERROR(bump.Run());
  return LoadModel(pk, number);
}

absl::StatusOr<Model> SqliteTxn::GetModel(const ModelName& name) {
  ASSIGN_OR_RETURN(int64_t pk, ModelPk(name));
  ASSIGN_OR_RETURN(int64_t version, ResolveVersion(pk, name));
  return LoadModel(pk, version);
}

absl::StatusOr<ListPage<Model>> SqliteTxn::ListModels(const LocationName& parent,
                                                      const ListArgs& args) {
  ASSIGN_OR_RETURN(int64_t after, DecodePageToken(args.page_token, "models"));
  std::vector<Param> params = {parent.project, parent.location, after};
  std::string sql =
      "SELECT m.pk, a.version FROM models m JOIN model_version_aliases a "
      "ON a.model_pk = m.pk AND a.alias = 'default' "
      "WHERE m.project = ? AND m.location = ? AND m.pk > ?";
  sql += ModelFilterSql(args.filter, "a.version", params);
  sql += " ORDER BY m.pk LIMIT ?";
  params.emplace_back(int64_t{args.page_size} + 1);
  ASSIGN_OR_RETURN(auto stmt, db_.Prepare(sql));
  BindAll(stmt, params);
  std::vector<std::pair<int64_t, int64_t>> keys;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    keys.emplace_back(stmt.Int(0), stmt.Int(1));
  }
  ListPage<Model> page;
  bool more = keys.size() > static_cast<size_t>(args.page_size);
  if (more) keys.resize(args.page_size);
  for (const auto& [pk, version] : keys) {
    ASSIGN_OR_RETURN(Model m, LoadModel(pk, version));
    page.items.push_back(std::move(m));
  }
  if (more && !keys.empty()) page.next_page_token = EncodePageToken("models", keys.back().first);
  return page;
}

absl::StatusOr<ListPage<Model>> SqliteTxn::ListModelVersions(const ModelName& model,
                                                             const ListArgs& args) {
  ASSIGN_OR_RETURN(int64_t pk, ModelPk(model));
  ASSIGN_OR_RETURN(int64_t after, DecodePageToken(args.page_token, "versions"));
  std::vector<Param> params = {pk, after};
  std::string sql =
      "SELECT v.version FROM models m JOIN model_versions v ON v.model_pk = m.pk "
      "WHERE m.pk = ? AND v.version > ?";
  sql += ModelFilterSql(args.filter, "v.version", params);
  sql += " ORDER BY v.version LIMIT ?";
  params.emplace_back(int64_t{args.page_size} + 1);
  ASSIGN_OR_RETURN(auto stmt, db_.Prepare(sql));
  BindAll(stmt, params);
  std::vector<int64_t> versions;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    versions.push_back(stmt.Int(0));
  }
  ListPage<Model> page;
  bool more = versions.size() > static_cast<size_t>(args.page_size);
  if (more) versions.resize(args.page_size);
  for (int64_t v : versions) {
    ASSIGN_OR_RETURN(Model m, LoadModel(pk, v));
    page.items.push_back(std::move(m));
  }
  if (more && !versions.empty())
    page.next_page_token = EncodePageToken("versions", versions.back());
  return page;
}

absl::StatusOr<Model> SqliteTxn::UpdateVersionAliases(const ModelName& version,
                                                      const std::vector<std::string>& add,
                                                      const std::vector<std::string>& remove,
                                                      absl::Time now) {
  ASSIGN_OR_RETURN(int64_t pk, ModelPk(version));
  ASSIGN_OR_RETURN(int64_t number, ResolveVersion(pk, version));
  for (const std::string& alias : remove) {
    ASSIGN_OR_RETURN(
        auto del,
        db_.Prepare(
            "DELETE FROM model_version_aliases WHERE model_pk = ? AND version = ? AND alias = ?"));
    del.Bind(1, pk).Bind(2, number).Bind(3, alias);
    RETURN_IF_ERROR(del.Run());
  }
  RETURN_IF_ERROR(MoveAliases(pk, number, add, now));
  RETURN_IF_ERROR(TouchVersion(pk, number, now));
  return LoadModel(pk, number);
}

absl::StatusOr<Model> SqliteTxn::UpdateModelFields(const ModelName& name,
                                                   const ModelFieldsUpdate& update,
                                                   absl::Time now) {
  ASSIGN_OR_RETURN(int64_t pk, ModelPk(name));
  ASSIGN_OR_RETURN(int64_t number, ResolveVersion(pk, name));
  bool version_scope = !name.version.empty() && name.version != "-";
  if (update.display_name) {
    ASSIGN_OR_RETURN(auto s, db_.Prepare("UPDATE models SET display_name = ? WHERE pk = ?"));
    s.Bind(1, *update.display_name).Bind(2, pk);
    RETURN_IF_ERROR(s.Run());
  }
  if (update.description) {
    ASSIGN_OR_RETURN(auto s, db_.Prepare("UPDATE models SET description = ? WHERE pk = ?"));
    s.Bind(1, *update.description).Bind(2, pk);
    RETURN_IF_ERROR(s.Run());
  }
  if (update.version_description) {
    ASSIGN_OR_RETURN(auto s, db_.Prepare("UPDATE model_versions SET version_description = ? WHERE "
                                         "model_pk = ? AND version = ?"));
    s.Bind(1, *update.version_description).Bind(2, pk).Bind(3, number);
    RETURN_IF_ERROR(s.Run());
  }
  if (update.labels) {
    int64_t scope = version_scope ? number : 0;
    ASSIGN_OR_RETURN(auto del,
                     db_.Prepare("DELETE FROM model_labels WHERE model_pk = ? AND version = ?"));
    del.Bind(1, pk).Bind(2, scope);
    RETURN_IF_ERROR(del.Run());
    RETURN_IF_ERROR(InsertLabels(db_, pk, scope, *update.labels));
  }
  if (version_scope) {
    RETURN_IF_ERROR(TouchVersion(pk, number, now));
  } else {
    RETURN_IF_ERROR(TouchModel(pk, now));
  }
  return LoadModel(pk, number);
}

absl::Status SqliteTxn::RefuseIfDeployed(int64_t pk, const int64_t* version,
                                         const std::string& what) {
  std::string sql =
      "SELECT e.project, e.location, e.endpoint_id, d.pk, d.version FROM deployed_models d "
      "JOIN endpoints e ON e.pk = d.endpoint_pk WHERE d.model_pk = ?";
  if (version != nullptr) sql += " AND d.version = ?";
  sql += " ORDER BY d.pk LIMIT 5";
  ASSIGN_OR_RETURN(auto stmt, db_.Prepare(sql));
  stmt.Bind(1, pk);
  if (version != nullptr) stmt.Bind(2, *version);
  std::vector<std::string> where;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    where.push_back(
        fmt::format("version {} as deployed model {} on {}", stmt.Int(4), stmt.Int(3),
                    EndpointName{{stmt.Text(0), stmt.Text(1)}, stmt.Text(2)}.ToString()));
  }
  if (where.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      fmt::format("{} is deployed ({}); undeploy it first", what, fmt::join(where, "; ")));
}

absl::Status SqliteTxn::DeleteModel(const ModelName& model) {
  ASSIGN_OR_RETURN(int64_t pk, ModelPk(model));
  RETURN_IF_ERROR(RefuseIfDeployed(pk, nullptr, fmt::format("model {}", model.ToString())));
  ASSIGN_OR_RETURN(auto del, db_.Prepare("DELETE FROM models WHERE pk = ?"));
  del.Bind(1, pk);
  return del.Run();
}

absl::Status SqliteTxn::DeleteModelVersion(const ModelName& version, absl::Time now) {
  ASSIGN_OR_RETURN(int64_t pk, ModelPk(version));
  int64_t number = 0;
  if (!ParseVersionId(version.version, number)) {
    return absl::InvalidArgumentError(
        fmt::format("\"{}\" does not name a version id (expected {}@<version id>)",
                    version.ToStringWithVersion(), version.ToString()));
  }
  ASSIGN_OR_RETURN(number, ResolveVersion(pk, version));
  RETURN_IF_ERROR(RefuseIfDeployed(pk, &number,
                                   fmt::format("model {} version {}", version.ToString(), number)));
  {
    ASSIGN_OR_RETURN(auto del,
                     db_.Prepare("DELETE FROM model_labels WHERE model_pk = ? AND version = ?"));
    del.Bind(1, pk).Bind(2, number);
    RETURN_IF_ERROR(del.Run());
  }
  ASSIGN_OR_RETURN(auto del,
                   db_.Prepare("DELETE FROM model_versions WHERE model_pk = ? AND version = ?"));
  del.Bind(1, pk).Bind(2, number);
  RETURN_IF_ERROR(del.Run());
  return TouchModel(pk, now);
}

absl::StatusOr<std::vector<ModelName>> SqliteTxn::ListAllModelVersions() {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare("SELECT m.project, m.location, m.model_id, v.version FROM models m "
                  "JOIN model_versions v ON v.model_pk = m.pk ORDER BY m.pk, v.version"));
  std::vector<ModelName> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back(
        ModelName{{stmt.Text(0), stmt.Text(1)}, stmt.Text(2), std::to_string(stmt.Int(3))});
  }
  return out;
}

absl::StatusOr<std::set<std::string>> SqliteTxn::ReferencedBlobDigests() {
  ASSIGN_OR_RETURN(auto stmt, db_.Prepare("SELECT DISTINCT sha256 FROM artifact_files"));
  std::set<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.insert(stmt.Text(0));
  }
  return out;
}

}  // namespace tessera::registry::sqlite
