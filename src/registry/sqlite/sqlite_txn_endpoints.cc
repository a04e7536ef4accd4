// SqliteTxn: endpoints, deployed models and traffic splits.
#include <charconv>
#include <optional>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "registry/sqlite/record_codec.h"
#include "registry/sqlite/sqlite_txn.h"
#include "registry/validation.h"

namespace tessera::registry::sqlite {
namespace {

bool ParseId(std::string_view s, int64_t& out) {
  if (!IsNumericId(s)) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

absl::Status WriteLabels(Database& db, int64_t pk,
                         const std::map<std::string, std::string>& labels) {
  ASSIGN_OR_RETURN(auto del, db.Prepare("DELETE FROM endpoint_labels WHERE endpoint_pk = ?"));
  del.Bind(1, pk);
  RETURN_IF_ERROR(del.Run());
  for (const auto& [key, value] : labels) {
    ASSIGN_OR_RETURN(
        auto ins,
        db.Prepare("INSERT INTO endpoint_labels (endpoint_pk, key, value) VALUES (?, ?, ?)"));
    ins.Bind(1, pk).Bind(2, key).Bind(3, value);
    RETURN_IF_ERROR(ins.Run());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> SqliteTxn::EndpointPk(const EndpointName& name) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare(
          "SELECT pk FROM endpoints WHERE project = ? AND location = ? AND endpoint_id = ?"));
  stmt.Bind(1, name.parent.project).Bind(2, name.parent.location).Bind(3, name.endpoint_id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::NotFoundError(fmt::format("endpoint {} not found", name.ToString()));
  return stmt.Int(0);
}

absl::StatusOr<Endpoint> SqliteTxn::LoadEndpoint(int64_t pk) {
  Endpoint e;
  int64_t generation = 0;
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare("SELECT project, location, endpoint_id, display_name, description, generation, "
                    "create_time_us, update_time_us, inference_timeout_us, rate_limit_rps, "
                    "rate_limit_burst, payload_logging_enabled, payload_sampling_rate, "
                    "payload_store_images FROM endpoints WHERE pk = ?"));
    stmt.Bind(1, pk);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return absl::NotFoundError(fmt::format("endpoint #{} not found", pk));
    e.name = EndpointName{{stmt.Text(0), stmt.Text(1)}, stmt.Text(2)}.ToString();
    e.display_name = stmt.Text(3);
    e.description = stmt.Text(4);
    generation = stmt.Int(5);
    e.create_time = FromMicros(stmt.Int(6));
    e.update_time = FromMicros(stmt.Int(7));
    e.inference_timeout = absl::Microseconds(stmt.Int(8));
    e.rate_limit = ReadRateLimit(stmt, 9);
    e.payload_logging = {.enabled = stmt.Int(11) != 0,
                         .sampling_rate = stmt.Double(12),
                         .store_images = stmt.Int(13) != 0};
  }
  e.etag = fmt::format("{}.{}", pk, generation);
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare("SELECT key, value FROM endpoint_labels WHERE endpoint_pk = ? ORDER BY key"));
    stmt.Bind(1, pk);
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      e.labels[stmt.Text(0)] = stmt.Text(1);
    }
  }
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare(
            "SELECT d.pk, m.project, m.location, m.model_id, d.version, d.display_name, "
            "d.resources, "
            "d.serving, d.desired_replica_count, d.state, d.create_time_us FROM deployed_models d "
            "JOIN models m ON m.pk = d.model_pk WHERE d.endpoint_pk = ? ORDER BY d.pk"));
    stmt.Bind(1, pk);
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      DeployedModel dm;
      dm.id = std::to_string(stmt.Int(0));
      dm.model = ModelName{{stmt.Text(1), stmt.Text(2)}, stmt.Text(3), ""}.ToString();
      dm.model_version_id = std::to_string(stmt.Int(4));
      dm.display_name = stmt.Text(5);
      RETURN_IF_ERROR(DecodeResources(stmt.Text(6), dm));
      RETURN_IF_ERROR(DecodeServing(stmt.Text(7), dm));
      dm.desired_replica_count = static_cast<int32_t>(stmt.Int(8));
      if (!ParseDeployedModelState(stmt.Text(9), dm.state)) {
        return absl::InternalError(fmt::format(
            "corrupt deployed model state \"{}\" in the metadata database", stmt.Text(9)));
      }
      dm.create_time = FromMicros(stmt.Int(10));
      e.deployed_models.push_back(std::move(dm));
    }
  }
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare("SELECT deployed_model_pk, percent FROM traffic_split WHERE endpoint_pk = ?"));
    stmt.Bind(1, pk);
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      e.traffic_split[std::to_string(stmt.Int(0))] = static_cast<int32_t>(stmt.Int(1));
    }
  }
  return e;
}

absl::Status SqliteTxn::TouchEndpoint(int64_t pk, absl::Time now) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare(
          "UPDATE endpoints SET generation = generation + 1, update_time_us = ? WHERE pk = ?"));
  stmt.Bind(1, ToMicros(now)).Bind(2, pk);
  return stmt.Run();
}

absl::StatusOr<Endpoint> SqliteTxn::CreateEndpoint(const LocationName& parent,
                                                   const std::string& endpoint_id,
                                                   const Endpoint& fields, absl::Time now) {
  {
    ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare(
            "INSERT INTO endpoints (project, location, endpoint_id, display_name, description, "
            "create_time_us, update_time_us, inference_timeout_us, payload_logging_enabled, "
            "payload_sampling_rate, payload_store_images) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?)"));
    std::string id = endpoint_id.empty() ? "#allocating" : endpoint_id;
    stmt.Bind(1, parent.project).Bind(2, parent.location).Bind(3, id);
    stmt.Bind(4, fields.display_name).Bind(5, fields.description);
    stmt.Bind(6, ToMicros(now)).Bind(7, ToMicros(now));
    stmt.Bind(8, absl::ToInt64Microseconds(fields.inference_timeout));
    stmt.Bind(9, int64_t{fields.payload_logging.enabled ? 1 : 0});
    stmt.Bind(10, fields.payload_logging.sampling_rate);
    stmt.Bind(11, int64_t{fields.payload_logging.store_images ? 1 : 0});
    absl::Status status = stmt.Run();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          fmt::format("endpoint {} already exists", EndpointName{parent, endpoint_id}.ToString()));
    }
    RETURN_IF_ERROR(status);
  }
  int64_t pk = db_.LastInsertRowId();
  if (endpoint_id.empty()) {
    ASSIGN_OR_RETURN(auto stmt, db_.Prepare("UPDATE endpoints SET endpoint_id = ? WHERE pk = ?"));
    stmt.Bind(1, std::to_string(pk)).Bind(2, pk);
    RETURN_IF_ERROR(stmt.Run());
  }
  RETURN_IF_ERROR(WriteLabels(db_, pk, fields.labels));
  return LoadEndpoint(pk);
}

absl::StatusOr<Endpoint> SqliteTxn::GetEndpoint(const EndpointName& name) {
  ASSIGN_OR_RETURN(int64_t pk, EndpointPk(name));
  return LoadEndpoint(pk);
}

absl::StatusOr<ListPage<Endpoint>> SqliteTxn::ListEndpoints(const LocationName& parent,
                                                            const ListArgs& args) {
  ASSIGN_OR_RETURN(int64_t after, DecodePageToken(args.page_token, "endpoints"));
  std::string sql =
      "SELECT e.pk FROM endpoints e WHERE e.project = ? AND e.location = ? AND e.pk > ?";
  std::vector<std::string> texts;
  if (args.filter.display_name) {
    sql += " AND e.display_name = ?";
    texts.push_back(*args.filter.display_name);
  }
  for (const LabelCondition& c : args.filter.labels) {
    if (c.value) {
      sql +=
          " AND EXISTS (SELECT 1 FROM endpoint_labels l WHERE l.endpoint_pk = e.pk AND "
          "l.key = ? AND l.value = ?)";
      texts.push_back(c.key);
      texts.push_back(*c.value);
    } else {
      sql +=
          " AND EXISTS (SELECT 1 FROM endpoint_labels l WHERE l.endpoint_pk = e.pk AND l.key = ?)";
      texts.push_back(c.key);
    }
  }
  sql += " ORDER BY e.pk LIMIT ?";
  ASSIGN_OR_RETURN(auto stmt, db_.Prepare(sql));
  int i = 1;
  stmt.Bind(1, parent.project).Bind(2, parent.location).Bind(3, after);
  i = 4;
  for (const auto& t : texts) stmt.Bind(i++, t);
  stmt.Bind(i++, int64_t{args.page_size} + 1);
  std::vector<int64_t> pks;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    pks.push_back(stmt.Int(0));
  }
  ListPage<Endpoint> page;
  bool more = pks.size() > static_cast<size_t>(args.page_size);
  if (more) pks.resize(args.page_size);
  for (int64_t pk : pks) {
    ASSIGN_OR_RETURN(Endpoint e, LoadEndpoint(pk));
    page.items.push_back(std::move(e));
  }
  if (more && !pks.empty()) page.next_page_token = EncodePageToken("endpoints", pks.back());
  return page;
}

absl::StatusOr<std::vector<Endpoint>> SqliteTxn::ListAllEndpoints() {
  ASSIGN_OR_RETURN(auto stmt, db_.Prepare("SELECT pk FROM endpoints ORDER BY pk"));
  std::vector<int64_t> pks;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    pks.push_back(stmt.Int(0));
  }
  std::vector<Endpoint> out;
  for (int64_t pk : pks) {
    ASSIGN_OR_RETURN(Endpoint e, LoadEndpoint(pk));
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<Endpoint> SqliteTxn::UpdateEndpoint(const Endpoint& endpoint, absl::Time now) {
  ASSIGN_OR_RETURN(EndpointName name, EndpointName::Parse(endpoint.name));
  ASSIGN_OR_RETURN(int64_t pk, EndpointPk(name));
  {
    ASSIGN_OR_RETURN(auto stmt,
                     db_.Prepare("UPDATE endpoints SET display_name = ?, description = ?, "
                                 "inference_timeout_us = ?, payload_logging_enabled = ?, "
                                 "payload_sampling_rate = ?, payload_store_images = ? "
                                 "WHERE pk = ?"));
    stmt.Bind(1, endpoint.display_name).Bind(2, endpoint.description);
    stmt.Bind(3, absl::ToInt64Microseconds(endpoint.inference_timeout));
    stmt.Bind(4, int64_t{endpoint.payload_logging.enabled ? 1 : 0});
    stmt.Bind(5, endpoint.payload_logging.sampling_rate);
    stmt.Bind(6, int64_t{endpoint.payload_logging.store_images ? 1 : 0});
    stmt.Bind(7, pk);
    RETURN_IF_ERROR(stmt.Run());
  }
  RETURN_IF_ERROR(WriteLabels(db_, pk, endpoint.labels));
  for (const DeployedModel& dm : endpoint.deployed_models) {
    int64_t dm_pk = 0;
    if (!ParseId(dm.id, dm_pk)) {
      return absl::InvalidArgumentError(fmt::format("invalid deployed model id \"{}\"", dm.id));
    }
    ASSIGN_OR_RETURN(auto stmt,
                     db_.Prepare("UPDATE deployed_models SET state = ?, desired_replica_count = ? "
                                 "WHERE pk = ? AND endpoint_pk = ?"));
    stmt.Bind(1, DeployedModelStateName(dm.state)).Bind(2, int64_t{dm.desired_replica_count});
    stmt.Bind(3, dm_pk).Bind(4, pk);
    RETURN_IF_ERROR(stmt.Run());
    if (db_.Changes() != 1) {
      return absl::NotFoundError(
          fmt::format("deployed model {} not found on endpoint {}", dm.id, endpoint.name));
    }
  }
  {
    ASSIGN_OR_RETURN(auto del, db_.Prepare("DELETE FROM traffic_split WHERE endpoint_pk = ?"));
    del.Bind(1, pk);
    RETURN_IF_ERROR(del.Run());
  }
  for (const auto& [id, percent] : endpoint.traffic_split) {
    int64_t dm_pk = 0;
    bool known = ParseId(id, dm_pk);
    if (known) {
      ASSIGN_OR_RETURN(
          auto check,
          db_.Prepare("SELECT 1 FROM deployed_models WHERE pk = ? AND endpoint_pk = ?"));
      check.Bind(1, dm_pk).Bind(2, pk);
      ASSIGN_OR_RETURN(known, check.Step());
    }
    if (!known) {
      return absl::InvalidArgumentError(fmt::format(
          "trafficSplit names \"{}\", which is not a model deployed on {}", id, endpoint.name));
    }
    ASSIGN_OR_RETURN(auto ins, db_.Prepare("INSERT INTO traffic_split (endpoint_pk, "
                                           "deployed_model_pk, percent) VALUES (?, ?, ?)"));
    ins.Bind(1, pk).Bind(2, dm_pk).Bind(3, int64_t{percent});
    RETURN_IF_ERROR(ins.Run());
  }
  RETURN_IF_ERROR(TouchEndpoint(pk, now));
  return LoadEndpoint(pk);
}

absl::StatusOr<std::string> SqliteTxn::AddDeployedModel(const EndpointName& endpoint,
                                                        const DeployedModel& dm, absl::Time now) {
  ASSIGN_OR_RETURN(int64_t pk, EndpointPk(endpoint));
  ASSIGN_OR_RETURN(ModelName model, ModelName::Parse(dm.model));
  model.version = dm.model_version_id;
  ASSIGN_OR_RETURN(int64_t model_pk, ModelPk(model));
  ASSIGN_OR_RETURN(int64_t version, ResolveVersion(model_pk, model));
  // A user-chosen id is the row's key: unique across endpoints, as the supervisor needs.
  std::optional<int64_t> chosen;
  if (!dm.id.empty()) {
    RETURN_IF_ERROR(ValidateDeployedModelId(dm.id));
    int64_t id = 0;
    if (!ParseId(dm.id, id)) return absl::InvalidArgumentError("deployedModel.id is not a number");
    ASSIGN_OR_RETURN(auto taken,
                     db_.Prepare("SELECT endpoint_pk FROM deployed_models WHERE pk = ?"));
    taken.Bind(1, id);
    ASSIGN_OR_RETURN(bool row, taken.Step());
    if (row) {
      return absl::AlreadyExistsError(
          taken.Int(0) == pk
              ? fmt::format("deployed model id {} is already used on endpoint {}", dm.id,
                            endpoint.ToString())
              : fmt::format("deployed model id {} is already used on another endpoint (ids are "
                            "unique across this server's endpoints)",
                            dm.id));
    }
    chosen = id;
  }
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare(
          "INSERT INTO deployed_models (endpoint_pk, model_pk, version, display_name, resources, "
          "serving, desired_replica_count, state, create_time_us, pk) VALUES (?, ?, ?, ?, ?, ?, ?, "
          "?, ?, ?)"));
  stmt.Bind(1, pk).Bind(2, model_pk).Bind(3, version).Bind(4, dm.display_name);
  stmt.Bind(5, EncodeResources(dm)).Bind(6, EncodeServing(dm));
  stmt.Bind(7, int64_t{dm.desired_replica_count}).Bind(8, DeployedModelStateName(dm.state));
  stmt.Bind(9, ToMicros(now));
  if (chosen.has_value()) {
    stmt.Bind(10, *chosen);
  } else {
    stmt.BindNull(10);  // allocated by AUTOINCREMENT
  }
  RETURN_IF_ERROR(stmt.Run());
  int64_t id = db_.LastInsertRowId();
  RETURN_IF_ERROR(TouchEndpoint(pk, now));
  return std::to_string(id);
}

absl::Status SqliteTxn::RemoveDeployedModel(const EndpointName& endpoint,
                                            const std::string& deployed_model_id, absl::Time now) {
  ASSIGN_OR_RETURN(int64_t pk, EndpointPk(endpoint));
  int64_t dm_pk = 0;
  bool found = ParseId(deployed_model_id, dm_pk);
  if (found) {
    ASSIGN_OR_RETURN(auto del,
                     db_.Prepare("DELETE FROM deployed_models WHERE pk = ? AND endpoint_pk = ?"));
    del.Bind(1, dm_pk).Bind(2, pk);
    RETURN_IF_ERROR(del.Run());
    found = db_.Changes() == 1;
  }
  if (!found) {
    return absl::NotFoundError(fmt::format("deployed model {} not found on endpoint {}",
                                           deployed_model_id, endpoint.ToString()));
  }
  return TouchEndpoint(pk, now);
}

absl::Status SqliteTxn::DeleteEndpoint(const EndpointName& name) {
  ASSIGN_OR_RETURN(int64_t pk, EndpointPk(name));
  ASSIGN_OR_RETURN(auto count,
                   db_.Prepare("SELECT COUNT(*) FROM deployed_models WHERE endpoint_pk = ?"));
  count.Bind(1, pk);
  ASSIGN_OR_RETURN(bool row, count.Step());
  if (row && count.Int(0) > 0) {
    return absl::FailedPreconditionError(
        fmt::format("endpoint {} has {} deployed model(s); undeploy them first", name.ToString(),
                    count.Int(0)));
  }
  ASSIGN_OR_RETURN(auto del, db_.Prepare("DELETE FROM endpoints WHERE pk = ?"));
  del.Bind(1, pk);
  return del.Run();
}

absl::StatusOr<Endpoint> SqliteTxn::SetEndpointRateLimit(const EndpointName& name,
                                                         const std::optional<RateLimit>& limit,
                                                         absl::Time now) {
  ASSIGN_OR_RETURN(int64_t pk, EndpointPk(name));
  ASSIGN_OR_RETURN(auto stmt, db_.Prepare("UPDATE endpoints SET rate_limit_rps = ?, "
                                          "rate_limit_burst = ? WHERE pk = ?"));
  BindRateLimit(stmt, 1, limit);
  stmt.Bind(3, pk);
  RETURN_IF_ERROR(stmt.Run());
  RETURN_IF_ERROR(TouchEndpoint(pk, now));
  return LoadEndpoint(pk);
}

}  // namespace tessera::registry::sqlite
