#include "registry/sqlite/sqlite_metadata_store.h"

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "registry/sqlite/migrations.h"
#include "registry/sqlite/sqlite_txn.h"
#include "spdlog/spdlog.h"

namespace tessera::registry::sqlite {

absl::StatusOr<std::unique_ptr<SqliteMetadataStore>> SqliteMetadataStore::Open(
    const Options& options) {
  ASSIGN_OR_RETURN(auto db, Database::Open(options.path));
  // journal_mode returns a row; Exec ignores it. The WAL setting is persistent in the file.
  RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout=5000"));
  {
    ASSIGN_OR_RETURN(auto stmt, db->Prepare("PRAGMA journal_mode"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row || stmt.Text(0) != "wal") {
      return absl::FailedPreconditionError(fmt::format(
          "metadata database {}: cannot enable WAL journaling (is it on a network filesystem?)",
          options.path.string()));
    }
  }
  std::unique_ptr<SqliteMetadataStore> store(new SqliteMetadataStore(std::move(db)));
  {
    absl::MutexLock lock(&store->mu_);
    int max = options.max_schema_version > 0 ? options.max_schema_version : LatestSchemaVersion();
    RETURN_IF_ERROR(store->Migrate(max));
  }
  return store;
}

absl::StatusOr<int> SqliteMetadataStore::SchemaVersion() {
  absl::MutexLock lock(&mu_);
  return SchemaVersionLocked();
}

absl::StatusOr<int> SqliteMetadataStore::SchemaVersionLocked() {
  ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? static_cast<int>(stmt.Int(0)) : 0;
}

absl::Status SqliteMetadataStore::Migrate(int max_version) {
  RETURN_IF_ERROR(db_->Exec(
      "CREATE TABLE IF NOT EXISTS schema_version ("
      "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_time_us INTEGER NOT NULL)"));
  ASSIGN_OR_RETURN(int current, SchemaVersionLocked());
  if (current > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(fmt::format(
        "the metadata database has schema version {}, newer than this binary supports ({}); "
        "run a newer tessera",
        current, LatestSchemaVersion()));
  }
  for (const Migration& m : Migrations()) {
    if (m.version > max_version) break;
    // Re-read inside the write transaction: another process may have migrated meanwhile.
    RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    absl::Status status = [&]() -> absl::Status {
      ASSIGN_OR_RETURN(int now_at, SchemaVersionLocked());
      if (now_at >= m.version) return absl::OkStatus();
      RETURN_IF_ERROR(db_->Exec(m.sql));
      ASSIGN_OR_RETURN(auto insert, db_->Prepare("INSERT INTO schema_version VALUES (?, ?, ?)"));
      insert.Bind(1, int64_t{m.version})
          .Bind(2, m.description)
          .Bind(3, absl::ToUnixMicros(absl::Now()));
      RETURN_IF_ERROR(insert.Run());
      spdlog::info("metadata database: applied migration {} ({})", m.version, m.description);
      return absl::OkStatus();
    }();
    if (!status.ok()) {
      (void)db_->Exec("ROLLBACK");
      return absl::Status(status.code(), fmt::format("schema migration {} failed: {}", m.version,
                                                     std::string(status.message())));
    }
    RETURN_IF_ERROR(db_->Exec("COMMIT"));
  }
  return absl::OkStatus();
}

absl::Status SqliteMetadataStore::Transact(const std::function<absl::Status(MetadataTxn&)>& fn) {
  absl::MutexLock lock(&mu_);
  // IMMEDIATE takes the write lock up front, so a read-then-write callback cannot deadlock with
  // another process upgrading its lock.
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  SqliteTxn txn(*db_);
  absl::Status status = fn(txn);
  if (!status.ok()) {
    absl::Status rollback = db_->Exec("ROLLBACK");
    if (!rollback.ok())
      spdlog::error("metadata database: rollback failed: {}", rollback.ToString());
    return status;
  }
  absl::Status commit = db_->Exec("COMMIT");
  if (!commit.ok()) {
    (void)db_->Exec("ROLLBACK");
    return commit;
  }
  return absl::OkStatus();
}

}  // namespace tessera::registry::sqlite
