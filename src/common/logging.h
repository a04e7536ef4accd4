// Logging: spdlog, configured once by the CLI. Libraries log through spdlog's default logger
// (spdlog::info/warn/error); they never configure it.
//
// Two formats: text ("2026-12-08T01:57:00.123 I [serve] message key=value") for people, and JSON
// lines ({"time": ..., "level": "info", "process": "serve", "msg": ..., "requestId": ...}) for
// log pipelines. Besides its message a line carries the fields of the ScopedLogFields active on
// the logging thread -- the request id of the request being handled, the access log's method,
// path and status -- as JSON members or as key=value pairs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spdlog/formatter.h"

namespace tessera {

enum class LogFormat { kText, kJson };
// "text" or "json"; INVALID_ARGUMENT naming the choices otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name);

// Sets the default logger: stderr, level from `level` ("debug", "info", "warn", "error"),
// lines prefixed with `process_name` (e.g. "serve", "replica 3").
absl::Status InitLogging(std::string_view process_name, std::string_view level,
                         LogFormat format = LogFormat::kText);

// The default logger's level, changed at run time (same names as InitLogging).
absl::Status SetLogLevel(std::string_view level);
std::string CurrentLogLevel();

struct LogField {
  std::string key;  // a JSON member name: letters, digits, '_'
  std::string value;
};

// Makes `fields` part of every line logged on this thread until destroyed (nested scopes add
// theirs after the outer ones'). Not movable: it lives on the stack of the code it describes.
class ScopedLogFields {
 public:
  explicit ScopedLogFields(std::vector<LogField> fields);
  ~ScopedLogFields();
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;

 private:
  friend class LogFieldsAccess;
  std::vector<LogField> fields_;
  const ScopedLogFields* outer_;
};

// The formatter InitLogging installs (for tests and other sinks).
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

}  // namespace tessera
