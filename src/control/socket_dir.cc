#include "control/socket_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fmt/format.h"

namespace tessera::control {
namespace {

namespace fs = std::filesystem;

// Longest unix socket path (sockaddr_un.sun_path is 108 bytes with the NUL).
constexpr size_t kMaxSocketPath = 107;

absl::Status Refuse(const fs::path& dir, const std::string& why) {
  return absl::FailedPreconditionError(fmt::format(
      "replica socket folder {}: {}; replicas would serve on a socket other users can reach. "
      "Remove it, or choose a --data-dir of your own",
      dir.string(), why));
}

}  // namespace

absl::Status EnsurePrivateDirectory(const fs::path& dir) {
  std::error_code ec;
  if (dir.has_parent_path()) fs::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno)));
  }
  // lstat, not stat: a symlink planted in the folder's place is refused, not followed.
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        fmt::format("cannot inspect {}: {}", dir.string(), std::strerror(errno)));
  }
  if (S_ISLNK(st.st_mode)) return Refuse(dir, "it is a symbolic link");
  if (!S_ISDIR(st.st_mode)) return Refuse(dir, "it is not a directory");
  if (st.st_uid != ::geteuid()) {
    return Refuse(dir, fmt::format("it is owned by uid {}, not by this server's uid {}", st.st_uid,
                                   ::geteuid()));
  }
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
    return absl::FailedPreconditionError(
        fmt::format("cannot make {} private (chmod 0700): {}", dir.string(), std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReplicaSocketPath(const fs::path& data_dir,
                                              const std::string& replica_id) {
  fs::path path = data_dir / "run" / (replica_id + ".sock");
  if (path.string().size() > kMaxSocketPath) {
    // A data dir too deep for a unix socket path: a per-user folder under /tmp, which another
    // user may have created first: EnsurePrivateDirectory refuses it then.
    path = fs::temp_directory_path() / fmt::format("tessera-{}", ::geteuid()) /
           fmt::format("{}-{}.sock", ::getpid(), replica_id);
    if (path.string().size() > kMaxSocketPath) {
      return absl::FailedPreconditionError(fmt::format(
          "no unix socket path for replica {} fits in {} bytes (under {} or {})", replica_id,
          kMaxSocketPath, (data_dir / "run").string(), fs::temp_directory_path().string()));
    }
  }
  absl::Status dir = EnsurePrivateDirectory(path.parent_path());
  if (!dir.ok()) return dir;
  return path.string();
}

}  // namespace tessera::control
