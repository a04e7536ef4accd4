// Files that hold secrets: the first admin key (DATA_DIR/admin.key) and the key-hashing pepper
// (DATA_DIR/auth.pepper). Written atomically with mode 0600 (a temporary file in the same
// folder, fsync, rename), so a crash leaves the old file or the new one, never a torn secret
// that other users could read.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera::auth {

// Writes `contents` to `path` (mode 0600), replacing any file there.
absl::Status WriteSecretFile(const std::filesystem::path& path, std::string_view contents);

// The file's contents without trailing whitespace. NOT_FOUND when missing; FAILED_PRECONDITION
// when group or others may read it (a secret anyone can read is no secret: fix with chmod 600).
absl::StatusOr<std::string> ReadSecretFile(const std::filesystem::path& path);

// The pepper in `path`, created (32 random bytes, hex) when the file does not exist; `created`
// (optional) says whether it was.
absl::StatusOr<std::string> LoadOrCreatePepper(const std::filesystem::path& path,
                                               bool* created = nullptr);

}  // namespace tessera::auth
