// Where replica unix sockets live. A replica's socket accepts predict requests and its /status
// without authentication, so the folder holding it must be private to the server's user: created
// 0700, and, when it exists already, a real directory (not a symlink) owned by this user. Another
// user who pre-creates the folder (e.g. the /tmp fallback) could otherwise read or replace the
// sockets; that is refused with an error naming the path and the owner.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tessera::control {

// Creates `dir` (and missing parents) with mode 0700, or checks the existing one: a directory,
// not a symlink, owned by the effective user; group/other permission bits are removed (it is
// ours). FAILED_PRECONDITION otherwise.
absl::Status EnsurePrivateDirectory(const std::filesystem::path& dir);

// The socket path of `replica_id`: <data_dir>/run/<replica_id>.sock, or, when that is longer
// than a unix socket path may be, /tmp/tessera-<uid>/<pid>-<replica_id>.sock. Its folder has
// passed EnsurePrivateDirectory.
absl::StatusOr<std::string> ReplicaSocketPath(const std::filesystem::path& data_dir,
                                              const std::string& replica_id);

}  // namespace tessera::control
