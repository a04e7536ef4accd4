// Safe extraction of model archives (.tar, .tar.gz / .tgz) with libarchive.
//
// Only regular files and directories are extracted. Refused, with INVALID_ARGUMENT naming the
// entry: absolute paths, any ".." component, symbolic links, hard links, device files, FIFOs and
// sockets, duplicate entries, more than `max_entries` entries, and files or totals above the
// byte limits (checked on the headers' claims before writing, and on the bytes actually written
// while writing, so a lying header gains nothing). Files are
// created with O_EXCL|O_NOFOLLOW under `dest`, which must be an empty folder, at their declared
// size (sparse until written), so that an observer can judge a file whose head has arrived.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "registry/cancellation.h"
#include "registry/upload_budget.h"

namespace tessera::registry {

struct ExtractLimits {
  int64_t max_file_bytes = int64_t{64} << 30;
  int64_t max_total_bytes = int64_t{64} << 30;
  int max_entries = 10000;
};

// Watches an extraction as it goes.
class ExtractObserver {
 public:
  virtual ~ExtractObserver() = default;
  // After each piece written to the regular file `rel` (relative to the destination, normalized),
  // with the bytes written so far, and once more with `complete` when its entry has ended (also
  // for an empty file). An error ends the extraction with that error.
  virtual absl::Status OnFileProgress(const std::filesystem::path& rel, int64_t written,
                                      bool complete) = 0;
};

// `budget` bounds the bytes written in all (a header's declared size before the entry is
// written, the bytes actually written while writing): its error names the cap or the disk.
// `observer` (optional, not owned) sees every file as it is written.
absl::Status ExtractTarArchive(const std::filesystem::path& archive,
                               const std::filesystem::path& dest, const ExtractLimits& limits,
                               const CancellationToken& cancel,
                               const UploadBudget& budget = UploadBudget(),
                               ExtractObserver* observer = nullptr);

// The same for an archive read from `fd` as its bytes arrive (a socket or pipe fed by a
// download; the caller keeps and closes it). `name` stands for the archive in errors. Reading
// stops at the archive's end: bytes after it are left unread. A cancel is noticed within 50 ms
// even while no bytes arrive (CANCELLED).
absl::Status ExtractTarStream(int fd, const std::string& name, const std::filesystem::path& dest,
                              const ExtractLimits& limits, const CancellationToken& cancel,
                              const UploadBudget& budget = UploadBudget(),
                              ExtractObserver* observer = nullptr);

// Whether `path` names an archive this extractor reads (by suffix: .tar, .tar.gz, .tgz).
bool LooksLikeTarArchive(const std::string& path);

}  // namespace tessera::registry
