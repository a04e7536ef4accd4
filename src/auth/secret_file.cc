#include "auth/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "auth/api_key_secret.h"
#include "fmt/format.h"

namespace tessera::auth {
namespace {

absl::Status Errno(std::string_view what, const std::filesystem::path& path) {
  return absl::PermissionDeniedError(
      fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(errno)));
}

}  // namespace

absl::Status WriteSecretFile(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  // O_EXCL + O_NOFOLLOW: never write through a link someone planted at the temporary name.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", tmp);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status status = Errno("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return status;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status status = Errno("fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return status;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status status = Errno("rename to", path);
    ::unlink(tmp.c_str());
    return status;
  }
  // The rename must survive a crash too: sync the folder.
  const int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSecretFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return absl::NotFoundError(fmt::format("{} does not exist", path.string()));
    return Errno("open", path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    absl::Status status = Errno("stat", path);
    ::close(fd);
    return status;
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(fmt::format(
        "{} holds a secret but group or others may read it (mode {:o}); run chmod 600 {}",
        path.string(), st.st_mode & 0777, path.string()));
  }
  constexpr size_t kMaxBytes = 4096;  // a key or a pepper; anything larger is not one
  std::string contents(kMaxBytes + 1, '\0');
  size_t have = 0;
  while (have < contents.size()) {
    const ssize_t n = ::read(fd, contents.data() + have, contents.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = Errno("read", path);
      ::close(fd);
      return status;
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  ::close(fd);
  if (have > kMaxBytes) {
    return absl::InvalidArgumentError(
        fmt::format("{} is larger than {} bytes: not a key file", path.string(), kMaxBytes));
  }
  contents.resize(have);
  while (!contents.empty() && (contents.back() == '\n' || contents.back() == '\r' ||
                               contents.back() == ' ' || contents.back() == '\t')) {
    contents.pop_back();
  }
  return contents;
}

absl::StatusOr<std::string> LoadOrCreatePepper(const std::filesystem::path& path, bool* created) {
  if (created != nullptr) *created = false;
  absl::StatusOr<std::string> pepper = ReadSecretFile(path);
  if (pepper.ok()) {
    if (pepper->size() < 32) {
      return absl::FailedPreconditionError(fmt::format(
          "{} holds {} characters; a pepper needs at least 32", path.string(), pepper->size()));
    }
    return pepper;
  }
  if (!absl::IsNotFound(pepper.status())) return pepper.status();
  std::string fresh = RandomHex(32);
  if (absl::Status s = WriteSecretFile(path, fresh + "\n"); !s.ok()) return s;
  if (created != nullptr) *created = true;
  return fresh;
}

}  // namespace tessera::auth
