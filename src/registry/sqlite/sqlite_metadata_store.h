// MetadataStore on one SQLite database file (the embedded default).
//
// Settings, applied at open:
//   journal_mode=WAL   readers never block the writer; a crash mid-transaction leaves the
//                      previous state (the WAL frames of an uncommitted transaction are ignored).
//   synchronous=FULL   every COMMIT fsyncs the WAL before returning. NORMAL would already be
//                      safe against kill -9 of the server (committed data sits in the OS page
//                      cache, which survives the process), but could lose the last commits on a
//                      power loss or kernel crash. The control plane commits a handful of rows
//                      per API call, so FULL's one fsync per commit costs nothing that matters,
//                      and it also makes "the client saw done=true" survive power loss.
//   foreign_keys=ON    versions, aliases, deployed models and splits reference each other; the
//                      database refuses dangling rows even if a service has a bug.
//   busy_timeout=5000  another process holding the write lock (the sqlite3 CLI, a second
//                      server by mistake) makes us wait up to 5 s instead of failing at once.
//
// Threading: one connection, one transaction at a time (Transact holds a mutex for the
// callback's duration). Control-plane traffic is small; the request path never touches this.
#pragma once

#include <filesystem>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "registry/metadata_store.h"
#include "registry/sqlite/sqlite_db.h"

namespace tessera::registry::sqlite {

class SqliteMetadataStore final : public MetadataStore {
 public:
  struct Options {
    std::filesystem::path path;  // the database file; its folder must exist
    // Apply migrations up to this version only (tests use it to create an old database, as an
    // older binary would have). 0: the latest.
    int max_schema_version = 0;
  };

  // Opens (creating if needed) and migrates the database. FAILED_PRECONDITION when the file's
  // schema is newer than this binary knows.
  static absl::StatusOr<std::unique_ptr<SqliteMetadataStore>> Open(const Options& options);

  absl::Status Transact(const std::function<absl::Status(MetadataTxn&)>& fn) override;

  // The schema version now in the file.
  absl::StatusOr<int> SchemaVersion();

 private:
  explicit SqliteMetadataStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  absl::Status Migrate(int max_version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int> SchemaVersionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::registry::sqlite
