// Safe extraction of model archives (.tar, .tar.gz / .tgz) with libarchive.
//
// Only regular files and directories are extracted. Refused, with INVALID_ARGUMENT naming the
// entry: absolute paths, any ".." component, symbolic links, hard links, device files, FIFOs and
// sockets, duplicate entries, more than `max_entries` entries, and files or totals above the
// byte limits (counted on the bytes actually written, not the headers' claims). Files are
// created with O_EXCL|O_NOFOLLOW under `dest`, which must be an empty folder.
#pragma once

#include <cstdint>
#include <filesystem>

#include "absl/status/status.h"
#include "registry/cancellation.h"

namespace tessera::registry {

struct ExtractLimits {
  int64_t max_file_bytes = int64_t{64} << 30;
  int64_t max_total_bytes = int64_t{64} << 30;
  int max_entries = 10000;
};

absl::Status ExtractTarArchive(const std::filesystem::path& archive,
                               const std::filesystem::path& dest, const ExtractLimits& limits,
                               const CancellationToken& cancel);

// Whether `path` names an archive this extractor reads (by suffix: .tar, .tar.gz, .tgz).
bool LooksLikeTarArchive(const std::string& path);

}  // namespace tessera::registry
