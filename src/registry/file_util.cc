#include "registry/file_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "fmt/format.h"
#include "registry/sha256.h"
#include "spdlog/spdlog.h"

namespace tessera::registry {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace

absl::Status ErrnoStatus(int err, const std::string& context) {
  std::string msg = fmt::format("{}: {}", context, std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<CopyResult> CopyAndHash(const std::filesystem::path& from,
                                       const std::filesystem::path& to, int64_t max_bytes,
                                       const CancellationToken& cancel) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return ErrnoStatus(errno, "open " + from.string());
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.get() < 0) return ErrnoStatus(errno, "create " + to.string());
  Sha256 hash;
  CopyResult result;
  std::vector<char> buf(1 << 20);
  while (true) {
    if (cancel.cancelled()) return absl::CancelledError("operation cancelled");
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read " + from.string());
    if (n == 0) break;
    result.bytes += n;
    if (result.bytes > max_bytes) {
      return absl::InvalidArgumentError(fmt::format(
          "{} is larger than the limit of {} bytes per artifact file", from.string(), max_bytes));
    }
    hash.Update(buf.data(), static_cast<size_t>(n));
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out.get(), buf.data() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoStatus(errno, "write " + to.string());
      off += w;
    }
  }
  if (::fsync(out.get()) != 0) return ErrnoStatus(errno, "fsync " + to.string());
  if (::close(out.Release()) != 0) return ErrnoStatus(errno, "close " + to.string());
  result.sha256 = hash.HexDigest();
  return result;
}

absl::Status FsyncDir(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, "open " + dir.string());
  if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsync " + dir.string());
  return absl::OkStatus();
}

absl::StatusOr<bool> RenameNoReplace(const std::filesystem::path& from,
                                     const std::filesystem::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return true;
  }
  int err = errno;
  if (err == EEXIST || err == ENOTEMPTY) return false;
  if (err != EINVAL && err != ENOSYS) {
    return ErrnoStatus(err, fmt::format("rename {} to {}", from.string(), to.string()));
  }
  // The filesystem lacks RENAME_NOREPLACE: link(2) fails with EEXIST instead of replacing
  // (files only; directories are never renamed onto each other here without the flag).
  if (::link(from.c_str(), to.c_str()) == 0) {
    ::unlink(from.c_str());
    return true;
  }
  err = errno;
  if (err == EEXIST) return false;
  return ErrnoStatus(err, fmt::format("link {} to {}", from.string(), to.string()));
}

absl::StatusOr<std::filesystem::path> MakeTempDir(const std::filesystem::path& parent,
                                                  const std::string& prefix) {
  std::string templ = (parent / (prefix + "XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) return ErrnoStatus(errno, "mkdtemp " + templ);
  return std::filesystem::path(templ);
}

void RemoveTreeQuietly(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) spdlog::warn("could not remove {}: {}", path.string(), ec.message());
}

}  // namespace tessera::registry
