// Model archive extraction (.tar, .tar.gz) into an empty folder, from a path or as a stream
// watched by the ArrivingArtifactCheck: whatever the archive holds, the extractor must never
// write outside the folder, never leave a symbolic link or special file, and never write past its
// limits; the check's inferred root stays inside the folder and only sees files that exist.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>

#include "fuzz_util.h"
#include "registry/archive_extractor.h"
#include "registry/arriving_artifact_check.h"
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

// Decides once a complete config.json has arrived, checking what the check hands it.
class ConfigValidator final : public tessera::registry::ArtifactValidator {
 public:
  explicit ConfigValidator(fs::path dest) : dest_(std::move(dest)) {}
  // Refuses a config.json that starts with 'x', so that refusals mid-extraction are fuzzed too.
  absl::Status Validate(const fs::path& dir) override {
    std::ifstream config(dir / "config.json", std::ios::binary);
    if (!config) return absl::InvalidArgumentError("no config.json");
    return config.peek() == 'x' ? absl::InvalidArgumentError("config.json refused")
                                : absl::OkStatus();
  }
  std::optional<absl::Status> ValidateEarly(
      const fs::path& dir, const tessera::registry::ArrivingFiles& files) override {
    const fs::path relative = dir.lexically_relative(dest_);
    Require(!relative.empty() && *relative.begin() != "..", "the inferred root is outside dest");
    for (const auto& [name, file] : files) {
      Require(fs::is_regular_file(dir / name), "the check sees a file that is not there");
      Require(file.bytes_written <= kMaxFileBytes, "the check sees more bytes than allowed");
    }
    const auto config = files.find("config.json");
    if (config == files.end() || !config->second.complete) return std::nullopt;
    return Validate(dir);
  }

 private:
  fs::path dest_;
};

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
  const tessera::registry::ExtractLimits limits{
      .max_file_bytes = kMaxFileBytes, .max_total_bytes = kMaxTotalBytes, .max_entries = 64};
  ConfigValidator validator(dest);
  tessera::registry::ArrivingArtifactCheck check(&validator, dest, "fuzz input");
  absl::Status status;
  if (size % 2 == 0) {  // half the inputs by path, half as a stream
    status = tessera::registry::ExtractTarArchive(archive, dest, limits, cancel, {}, &check);
  } else {
    const int fd = ::open(archive.c_str(), O_RDONLY | O_CLOEXEC);
    Require(fd >= 0, "cannot open the scratch file");
    status = tessera::registry::ExtractTarStream(fd, "fuzz input", dest, limits, cancel, {}, &check);
    ::close(fd);
  }
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
