// A file of lines rotated by size: <path> is written, <path>.1 is the newest old file, ...,
// <path>.N the oldest; before a line would make <path> larger than max_file_bytes, the files
// move down one place and the oldest is deleted, so the disk holds at most N + 1 files. Each
// line is one write(2) on a file opened O_APPEND | O_NOFOLLOW, mode 0600, so lines never
// interleave and a symlink planted at the path is never followed. The audit log and the payload
// logs are written this way.
//
// Not thread-safe: the owner serializes calls.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tessera {

class RotatingFile {
 public:
  struct Options {
    std::filesystem::path path;  // its folder is created when missing
    int64_t max_file_bytes = int64_t{64} << 20;
    int max_rotated_files = 5;  // <path>.1 .. .N kept; 0: the full file is deleted instead
    // When the files cannot be moved (the disk or the folder refuses): false appends to the
    // full file anyway (a trail that must not have gaps: the audit log); true refuses the line,
    // so the cap holds (the payload logs).
    bool refuse_lines_when_rotation_fails = false;
  };

  // Creates the folder and opens the file. INVALID_ARGUMENT for bad options;
  // PERMISSION_DENIED naming the folder or file that cannot be made or opened.
  static absl::StatusOr<std::unique_ptr<RotatingFile>> Open(const Options& options);
  ~RotatingFile();
  RotatingFile(const RotatingFile&) = delete;
  RotatingFile& operator=(const RotatingFile&) = delete;

  // Appends `line` (with its newline), rotating first when it would not fit. An error says why
  // the line was not written; the next call tries again (reopening the file if it must).
  absl::Status Append(std::string_view line);

  const std::filesystem::path& path() const { return options_.path; }

 private:
  explicit RotatingFile(const Options& options) : options_(options) {}
  absl::Status OpenFile();
  // Moves the files down one place; false when <path> itself could not be moved away.
  bool Rotate();

  const Options options_;
  int fd_ = -1;
  int64_t size_ = 0;
};

}  // namespace tessera
