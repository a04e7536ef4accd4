// The audit log: one JSON line per mutation (any outcome) and per refused credential or
// permission (401, 403), appended to a file rotated by size (audit.jsonl, audit.jsonl.1, ...).
// A line never holds a key's secret: only its public id (docs/security.md#audit-log).
//
//   {"time":"2026-12-07T10:00:00.123Z","keyId":"tsk_3f9a1c0e7b2d4a6f","role":"deployer",
//    "protocol":"http","method":"POST","resource":"/v1/projects/p/locations/l/endpoints",
//    "status":200,"outcome":"OK","requestId":"...","remote":"127.0.0.1:50122"}
//
// The file is a RotatingFile (common/rotating_file.h): each line one write(2) on an O_APPEND
// file, so lines never interleave. A failed write is logged (at most once a minute) and does not
// fail the request: serving goes on when the disk fills. Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rotating_file.h"

namespace tessera::auth {

struct AuditEvent {
  absl::Time time = absl::InfinitePast();
  std::string key_id;    // "" when the request had no valid key
  std::string role;      // "" when unknown
  std::string protocol;  // "http" or "grpc"
  std::string method;    // HTTP method, or the gRPC method ("ModelInfer")
  std::string resource;  // the path without its query, or the gRPC model name
  int status = 0;        // HTTP status (gRPC calls: the HTTP status of their code)
  std::string outcome;   // "OK", "UNAUTHENTICATED", "PERMISSION_DENIED", ...
  std::string request_id;
  std::string remote;  // the peer address
};

class AuditLog {
 public:
  struct Options {
    std::filesystem::path path;         // created (with its folder) when missing, mode 0600
    int64_t max_file_bytes = 64 << 20;  // rotate before a line would make the file larger
    int max_rotated_files = 5;          // audit.jsonl.1 .. .N are kept; older ones are deleted
  };

  static absl::StatusOr<std::unique_ptr<AuditLog>> Create(const Options& options);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Record(const AuditEvent& event);
  // The JSON line Record writes for `event` (without the newline).
  static std::string Line(const AuditEvent& event);

 private:
  explicit AuditLog(std::unique_ptr<RotatingFile> file) : file_(std::move(file)) {}

  absl::Mutex mu_;
  const std::unique_ptr<RotatingFile> file_ ABSL_PT_GUARDED_BY(mu_);
  absl::Time last_error_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace tessera::auth
