// SqliteTxn: long-running operations.
#include <charconv>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "registry/sqlite/sqlite_txn.h"

namespace tessera::registry::sqlite {
namespace {

constexpr std::string_view kColumns =
    "pk, project, location, kind, target, done, error_code, error_message, result_model, "
    "result_model_version_id, result_endpoint, result_deployed_model_id, progress_percent, stage, "
    "create_time_us, update_time_us";

absl::StatusOr<Operation> ReadOperation(const Statement& s) {
  Operation op;
  op.name = OperationName{{s.Text(1), s.Text(2)}, std::to_string(s.Int(0))}.ToString();
  if (!ParseOperationKind(s.Text(3), op.kind)) {
    return absl::InternalError(
        fmt::format("corrupt operation kind \"{}\" in the metadata database", s.Text(3)));
  }
  op.target = s.Text(4);
  op.done = s.Int(5) != 0;
  op.error = absl::Status(static_cast<absl::StatusCode>(s.Int(6)), s.Text(7));
  op.result = {s.Text(8), s.Text(9), s.Text(10), s.Text(11)};
  op.progress_percent = static_cast<int32_t>(s.Int(12));
  op.stage = s.Text(13);
  op.create_time = FromMicros(s.Int(14));
  op.update_time = FromMicros(s.Int(15));
  return op;
}

// The row key of an operation name, or NOT_FOUND.
absl::StatusOr<int64_t> OperationPk(Database& db, const OperationName& name) {
  int64_t pk = 0;
  auto [ptr, ec] = std::from_chars(name.operation_id.data(),
                                   name.operation_id.data() + name.operation_id.size(), pk);
  absl::Status not_found =
      absl::NotFoundError(fmt::format("operation {} not found", name.ToString()));
  if (ec != std::errc()) return not_found;
  ASSIGN_OR_RETURN(
      auto stmt,
      db.Prepare("SELECT 1 FROM operations WHERE pk = ? AND project = ? AND location = ?"));
  stmt.Bind(1, pk).Bind(2, name.parent.project).Bind(3, name.parent.location);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return not_found;
  return pk;
}

}  // namespace

absl::StatusOr<Operation> SqliteTxn::CreateOperation(const LocationName& parent,
                                                     const Operation& op) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare(
          "INSERT INTO operations (project, location, kind, target, done, error_code, "
          "error_message, "
          "result_model, result_model_version_id, result_endpoint, result_deployed_model_id, "
          "progress_percent, stage, create_time_us, update_time_us) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt.Bind(1, parent.project).Bind(2, parent.location).Bind(3, OperationKindName(op.kind));
  stmt.Bind(4, op.target).Bind(5, int64_t{op.done ? 1 : 0});
  stmt.Bind(6, int64_t{static_cast<int>(op.error.code())}).Bind(7, std::string(op.error.message()));
  stmt.Bind(8, op.result.model).Bind(9, op.result.model_version_id);
  stmt.Bind(10, op.result.endpoint).Bind(11, op.result.deployed_model_id);
  stmt.Bind(12, int64_t{op.progress_percent}).Bind(13, op.stage);
  stmt.Bind(14, ToMicros(op.create_time)).Bind(15, ToMicros(op.update_time));
  RETURN_IF_ERROR(stmt.Run());
  Operation out = op;
  out.name = OperationName{parent, std::to_string(db_.LastInsertRowId())}.ToString();
  return out;
}

absl::StatusOr<Operation> SqliteTxn::GetOperation(const OperationName& name) {
  ASSIGN_OR_RETURN(int64_t pk, OperationPk(db_, name));
  ASSIGN_OR_RETURN(auto stmt,
                   db_.Prepare(fmt::format("SELECT {} FROM operations WHERE pk = ?", kColumns)));
  stmt.Bind(1, pk);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::NotFoundError(fmt::format("operation {} not found", name.ToString()));
  return ReadOperation(stmt);
}

absl::StatusOr<ListPage<Operation>> SqliteTxn::ListOperations(const LocationName& parent,
                                                              const ListArgs& args) {
  ASSIGN_OR_RETURN(int64_t before, DecodePageToken(args.page_token, "operations"));
  std::string sql = fmt::format(
      "SELECT {} FROM operations WHERE project = ? AND location = ? AND pk < ?", kColumns);
  if (args.filter.done) sql += " AND done = ?";
  sql += " ORDER BY pk DESC LIMIT ?";
  ASSIGN_OR_RETURN(auto stmt, db_.Prepare(sql));
  int i = 1;
  stmt.Bind(1, parent.project).Bind(2, parent.location);
  i = 3;
  stmt.Bind(i++, before == 0 ? INT64_MAX : before);
  if (args.filter.done) stmt.Bind(i++, int64_t{*args.filter.done ? 1 : 0});
  stmt.Bind(i++, int64_t{args.page_size} + 1);
  ListPage<Operation> page;
  int64_t last_pk = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (page.items.size() == static_cast<size_t>(args.page_size)) {
      page.next_page_token = EncodePageToken("operations", last_pk);
      break;
    }
    ASSIGN_OR_RETURN(Operation op, ReadOperation(stmt));
    last_pk = stmt.Int(0);
    page.items.push_back(std::move(op));
  }
  return page;
}

absl::Status SqliteTxn::UpdateOperationProgress(const OperationName& name, int32_t percent,
                                                const std::string& stage, absl::Time now) {
  ASSIGN_OR_RETURN(int64_t pk, OperationPk(db_, name));
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare("UPDATE operations SET progress_percent = ?, stage = ?, update_time_us = ? "
                  "WHERE pk = ? AND done = 0"));
  stmt.Bind(1, int64_t{percent}).Bind(2, stage).Bind(3, ToMicros(now)).Bind(4, pk);
  return stmt.Run();
}

absl::StatusOr<bool> SqliteTxn::CompleteOperation(const OperationName& name,
                                                  const absl::Status& error,
                                                  const OperationResult& result, absl::Time now) {
  ASSIGN_OR_RETURN(int64_t pk, OperationPk(db_, name));
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare(
          "UPDATE operations SET done = 1, error_code = ?, error_message = ?, result_model = ?, "
          "result_model_version_id = ?, result_endpoint = ?, result_deployed_model_id = ?, "
          "progress_percent = CASE WHEN ? = 0 THEN 100 ELSE progress_percent END, update_time_us = "
          "? "
          "WHERE pk = ? AND done = 0"));
  int64_t code = static_cast<int>(error.code());
  stmt.Bind(1, code).Bind(2, std::string(error.message()));
  stmt.Bind(3, result.model).Bind(4, result.model_version_id);
  stmt.Bind(5, result.endpoint).Bind(6, result.deployed_model_id);
  stmt.Bind(7, code).Bind(8, ToMicros(now)).Bind(9, pk);
  RETURN_IF_ERROR(stmt.Run());
  return db_.Changes() == 1;
}

absl::Status SqliteTxn::DeleteOperation(const OperationName& name) {
  ASSIGN_OR_RETURN(int64_t pk, OperationPk(db_, name));
  ASSIGN_OR_RETURN(auto stmt, db_.Prepare("DELETE FROM operations WHERE pk = ?"));
  stmt.Bind(1, pk);
  return stmt.Run();
}

absl::StatusOr<int> SqliteTxn::FailUnfinishedOperations(const absl::Status& error, absl::Time now) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db_.Prepare(
          "UPDATE operations SET done = 1, error_code = ?, error_message = ?, update_time_us = ? "
          "WHERE done = 0"));
  stmt.Bind(1, int64_t{static_cast<int>(error.code())}).Bind(2, std::string(error.message()));
  stmt.Bind(3, ToMicros(now));
  RETURN_IF_ERROR(stmt.Run());
  return db_.Changes();
}

}  // namespace tessera::registry::sqlite
