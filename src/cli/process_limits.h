// What serve sets up about its own process before it builds anything: the open-file limit it
// needs to hold many connections, and a data dir only its own user can read (it holds the
// registry, the artifacts, the hashing pepper and the first admin key).
#pragma once

#include <filesystem>

#include "absl/status/status.h"

namespace tessera::cli {

// Raises the soft RLIMIT_NOFILE to the hard one (logged): every connection, HTTP or gRPC, is a
// descriptor, and the distribution default (1,024) is soon exhausted by a crowd of idle peers.
void RaiseOpenFileLimit();

// Makes `data_dir` mode 0700 when its group or others may enter it (logged). An error when that
// fails: the keys and the registry must not be readable by other local users.
absl::Status RestrictDataDir(const std::filesystem::path& data_dir);

}  // namespace tessera::cli
