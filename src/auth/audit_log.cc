#include "auth/audit_log.h"

#include "auth/api_key_secret.h"
#include "common/rotating_file.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace tessera::auth {
namespace {

constexpr size_t kMaxFieldBytes = 1024;

std::string Clip(const std::string& s) {
  return s.size() <= kMaxFieldBytes ? s : s.substr(0, kMaxFieldBytes) + "...";
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(const Options& options) {
  if (options.path.empty() || options.max_file_bytes < 4096 || options.max_rotated_files < 0) {
    return absl::InvalidArgumentError(
        "AuditLog: a path, max_file_bytes >= 4096 and max_rotated_files >= 0 are required");
  }
  // A trail must not have gaps: past a rotation that fails, lines still go to the full file.
  absl::StatusOr<std::unique_ptr<RotatingFile>> file =
      RotatingFile::Open({.path = options.path,
                          .max_file_bytes = options.max_file_bytes,
                          .max_rotated_files = options.max_rotated_files,
                          .refuse_lines_when_rotation_fails = false});
  if (!file.ok()) {
    return absl::Status(file.status().code(),
                        fmt::format("the audit log: {}", std::string(file.status().message())));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(*file)));
}

AuditLog::~AuditLog() = default;

std::string AuditLog::Line(const AuditEvent& e) {
  nlohmann::ordered_json j;
  j["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", e.time, absl::UTCTimeZone());
  j["keyId"] = e.key_id;
  j["role"] = e.role;
  j["protocol"] = e.protocol;
  j["method"] = Clip(e.method);
  j["resource"] = Clip(RedactKeys(e.resource));
  j["status"] = e.status;
  j["outcome"] = e.outcome;
  j["requestId"] = Clip(e.request_id);
  j["remote"] = Clip(e.remote);
  // Paths come from clients: invalid UTF-8 is replaced, never a reason to drop the line.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AuditLog::Record(const AuditEvent& event) {
  const std::string line = Line(event) + "\n";
  absl::MutexLock lock(&mu_);
  const absl::Status appended = file_->Append(line);
  if (appended.ok()) return;
  const absl::Time now = absl::Now();
  if (now - last_error_log_ >= absl::Minutes(1)) {
    last_error_log_ = now;
    spdlog::error("audit log: cannot append a line: {}", std::string(appended.message()));
  }
}

}  // namespace tessera::auth
