// POSIX file helpers for crash-safe writes (internal to the registry).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "registry/cancellation.h"

namespace tessera::registry {

struct CopyResult {
  std::string sha256;
  int64_t bytes = 0;
};

// Copies `from` to a new file `to` (O_EXCL), hashing what it writes, then fsyncs `to`.
// Fails with INVALID_ARGUMENT if more than `max_bytes` would be written; CANCELLED on cancel.
absl::StatusOr<CopyResult> CopyAndHash(const std::filesystem::path& from,
                                       const std::filesystem::path& to, int64_t max_bytes,
                                       const CancellationToken& cancel);

// fsync of a directory, so a rename or create inside it is durable.
absl::Status FsyncDir(const std::filesystem::path& dir);

// rename(2) that never replaces: returns false (and leaves `from`) when `to` exists.
absl::StatusOr<bool> RenameNoReplace(const std::filesystem::path& from,
                                     const std::filesystem::path& to);

// A new empty directory `parent/prefixXXXXXX`.
absl::StatusOr<std::filesystem::path> MakeTempDir(const std::filesystem::path& parent,
                                                  const std::string& prefix);

// Removes a tree, logging (not failing) on errors: used for cleanup paths.
void RemoveTreeQuietly(const std::filesystem::path& path);

// errno as a Status with context ("open /x: No such file or directory").
absl::Status ErrnoStatus(int err, const std::string& context);

}  // namespace tessera::registry
