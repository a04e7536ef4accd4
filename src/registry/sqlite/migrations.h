// The SQLite schema as an ordered list of migrations. Each migration runs once, in its own
// transaction, and records its number in `schema_version`; opening a database applies the ones
// it lacks, so any older database is brought up to date (and a newer one is refused).
//
// Rules for adding one: append (never edit an existing entry), keep the SQL portable to
// PostgreSQL where it costs nothing (no SQLite-only types; INTEGER times in microseconds).
#pragma once

#include <string_view>
#include <vector>

namespace tessera::registry::sqlite {

struct Migration {
  int version;  // 1, 2, 3, ...: strictly increasing
  std::string_view description;
  std::string_view sql;  // one or more statements
};

const std::vector<Migration>& Migrations();
int LatestSchemaVersion();

}  // namespace tessera::registry::sqlite
