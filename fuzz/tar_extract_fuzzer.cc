// Model archive extraction (.tar, .tar.gz) into an empty folder: whatever the archive holds,
// the extractor must never write outside the folder, never leave a symbolic link or special
// file, and never write past its limits.
#include <filesystem>
#include <system_error>

#include "fuzz_util.h"
#include "registry/archive_extractor.h"
#include "registry/cancellation.h"

namespace fs = std::filesystem;
using tessera::fuzz::Require;

namespace {

constexpr int64_t kMaxFileBytes = 1 << 20;
constexpr int64_t kMaxTotalBytes = 4 << 20;

// Checks what the extraction left under `dest` (also after a refused archive: a partial
// extraction must still be inside the limits and hold only plain files and folders).
void CheckTree(const fs::path& dest) {
  int64_t total = 0;
  int entries = 0;
  for (auto it = fs::recursive_directory_iterator(dest); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::file_status status = it->symlink_status();
    Require(fs::is_regular_file(status) || fs::is_directory(status),
            "extraction left something other than a regular file or a folder");
    if (fs::is_regular_file(status)) {
      const auto size = static_cast<int64_t>(it->file_size());
      Require(size <= kMaxFileBytes, "a file over max_file_bytes was written");
      total += size;
    }
    ++entries;
  }
  Require(total <= kMaxTotalBytes, "more than max_total_bytes were written");
  Require(entries <= 2 * 64, "far more entries than max_entries were written");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path& scratch = tessera::fuzz::ScratchDir();
  const fs::path archive =
      tessera::fuzz::WriteScratchFile("input.tar", tessera::fuzz::AsView(data, size));
  // Entries that escape `dest` would land in `outside`, which must stay empty.
  const fs::path outside = scratch / "outside";
  const fs::path dest = outside / "dest";
  std::error_code ec;
  fs::remove_all(outside, ec);
  fs::create_directories(dest);

  tessera::registry::CancellationToken cancel;
  const absl::Status status = tessera::registry::ExtractTarArchive(
      archive, dest,
      {.max_file_bytes = kMaxFileBytes, .max_total_bytes = kMaxTotalBytes, .max_entries = 64},
      cancel);
  Require(status.ok() || absl::IsInvalidArgument(status) || absl::IsResourceExhausted(status) ||
              absl::IsFailedPrecondition(status),
          "an unexpected error code");
  CheckTree(dest);
  for (const fs::directory_entry& entry : fs::directory_iterator(outside)) {
    Require(entry.path() == dest, "extraction wrote outside its destination folder");
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(scratch)) {
    const std::string name = entry.path().filename().string();
    Require(name == "input.tar" || name == "outside", "extraction wrote into the scratch folder");
  }
  fs::remove_all(outside, ec);
  return 0;
}
