#include "auth/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "auth/api_key_secret.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace tessera::auth {
namespace {

constexpr size_t kMaxFieldBytes = 1024;

std::string Clip(const std::string& s) {
  return s.size() <= kMaxFieldBytes ? s : s.substr(0, kMaxFieldBytes) + "...";
}

std::filesystem::path Rotated(const std::filesystem::path& path, int n) {
  return path.string() + "." + std::to_string(n);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(const Options& options) {
  if (options.path.empty() || options.max_file_bytes < 4096 || options.max_rotated_files < 0) {
    return absl::InvalidArgumentError(
        "AuditLog: a path, max_file_bytes >= 4096 and max_rotated_files >= 0 are required");
  }
  std::error_code ec;
  if (options.path.has_parent_path()) {
    std::filesystem::create_directories(options.path.parent_path(), ec);
    if (ec) {
      return absl::PermissionDeniedError(fmt::format("cannot create the audit log folder {}: {}",
                                                     options.path.parent_path().string(),
                                                     ec.message()));
    }
  }
  std::unique_ptr<AuditLog> log(new AuditLog(options));
  absl::MutexLock lock(&log->mu_);
  if (absl::Status s = log->Open(); !s.ok()) return s;
  return log;
}

AuditLog::~AuditLog() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
}

absl::Status AuditLog::Open() {
  fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) {
    return absl::PermissionDeniedError(fmt::format("cannot open the audit log {}: {}",
                                                   options_.path.string(), std::strerror(errno)));
  }
  ::fchmod(fd_, 0600);  // a file left by an older run or another tool is made private too
  struct stat st;
  size_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
  return absl::OkStatus();
}

void AuditLog::Rotate() {
  ::close(fd_);
  fd_ = -1;
  std::error_code ec;
  if (options_.max_rotated_files == 0) {
    std::filesystem::remove(options_.path, ec);
  } else {
    std::filesystem::remove(Rotated(options_.path, options_.max_rotated_files), ec);
    for (int n = options_.max_rotated_files - 1; n >= 1; --n) {
      std::filesystem::rename(Rotated(options_.path, n), Rotated(options_.path, n + 1), ec);
    }
    std::filesystem::rename(options_.path, Rotated(options_.path, 1), ec);
  }
  if (absl::Status s = Open(); !s.ok()) spdlog::error("audit log: {}", std::string(s.message()));
}

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
  if (fd_ >= 0 && size_ > 0 &&
      size_ + static_cast<int64_t>(line.size()) > options_.max_file_bytes) {
    Rotate();
  }
  if (fd_ < 0 && !Open().ok()) {
    // Reopening failed (Rotate logged why); try again on the next line.
  }
  const ssize_t n = fd_ >= 0 ? ::write(fd_, line.data(), line.size()) : -1;
  if (n == static_cast<ssize_t>(line.size())) {
    size_ += n;
    return;
  }
  const absl::Time now = absl::Now();
  if (now - last_error_log_ >= absl::Minutes(1)) {
    last_error_log_ = now;
    spdlog::error("audit log {}: cannot append a line: {}", options_.path.string(),
                  n < 0 ? std::strerror(errno) : "short write");
  }
}

}  // namespace tessera::auth
