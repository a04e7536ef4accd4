// A thin RAII layer over the SQLite C API: one connection, prepared statements, errors as
// absl::Status. Not thread-safe: the owner (SqliteMetadataStore) serializes access.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tessera::registry::sqlite {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite. Each returns *this for chaining.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view value);
  Statement& Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Statement& Bind(int index, const std::string& value) {
    return Bind(index, std::string_view(value));
  }
  Statement& BindNull(int index);

  // Advances: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion (for statements without rows).
  absl::Status Run();

  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
  absl::Status bind_error_;
};

class Database {
 public:
  // Opens (creating if missing) the database file.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::filesystem::path& path);
  ~Database();

  // Runs one or more statements without parameters.
  absl::Status Exec(std::string_view sql);
  absl::StatusOr<Statement> Prepare(std::string_view sql);
  int64_t LastInsertRowId() const;
  int Changes() const;

  // Maps an SQLite result code to a Status: constraint violations become ALREADY_EXISTS
  // (unique) or FAILED_PRECONDITION (foreign key), busy/locked UNAVAILABLE, others INTERNAL.
  static absl::Status ToStatus(sqlite3* db, int code, std::string_view context);

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace tessera::registry::sqlite
