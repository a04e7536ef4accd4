#include "common/rotating_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "fmt/format.h"

namespace tessera {
namespace {

std::filesystem::path Rotated(const std::filesystem::path& path, int n) {
  return path.string() + "." + std::to_string(n);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RotatingFile>> RotatingFile::Open(const Options& options) {
  if (options.path.empty() || options.max_file_bytes <= 0 || options.max_rotated_files < 0) {
    return absl::InvalidArgumentError(
        "RotatingFile: a path, max_file_bytes > 0 and max_rotated_files >= 0 are required");
  }
  std::error_code ec;
  if (options.path.has_parent_path()) {
    std::filesystem::create_directories(options.path.parent_path(), ec);
    if (ec) {
      return absl::PermissionDeniedError(fmt::format(
          "cannot create the folder {}: {}", options.path.parent_path().string(), ec.message()));
    }
  }
  std::unique_ptr<RotatingFile> file(new RotatingFile(options));
  if (absl::Status s = file->OpenFile(); !s.ok()) return s;
  return file;
}

RotatingFile::~RotatingFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status RotatingFile::OpenFile() {
  fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) {
    return absl::PermissionDeniedError(
        fmt::format("cannot open {}: {}", options_.path.string(), std::strerror(errno)));
  }
  ::fchmod(fd_, 0600);  // a file left by an older run or another tool is made private too
  struct stat st;
  size_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
  return absl::OkStatus();
}

bool RotatingFile::Rotate() {
  ::close(fd_);
  fd_ = -1;
  std::error_code ec;
  if (options_.max_rotated_files == 0) {
    std::filesystem::remove(options_.path, ec);
    return !ec;
  }
  std::filesystem::remove(Rotated(options_.path, options_.max_rotated_files), ec);
  for (int n = options_.max_rotated_files - 1; n >= 1; --n) {
    std::filesystem::rename(Rotated(options_.path, n), Rotated(options_.path, n + 1), ec);
  }
  std::filesystem::rename(options_.path, Rotated(options_.path, 1), ec);
  return !ec;
}

absl::Status RotatingFile::Append(std::string_view line) {
  if (fd_ >= 0 && size_ > 0 &&
      size_ + static_cast<int64_t>(line.size()) > options_.max_file_bytes) {
    const bool rotated = Rotate();
    if (absl::Status s = OpenFile(); !s.ok()) return s;
    if (!rotated && options_.refuse_lines_when_rotation_fails) {
      return absl::UnavailableError(
          fmt::format("cannot rotate {}: the line would take it past {} bytes",
                      options_.path.string(), options_.max_file_bytes));
    }
  }
  if (fd_ < 0) {
    if (absl::Status s = OpenFile(); !s.ok()) return s;
  }
  const ssize_t n = ::write(fd_, line.data(), line.size());
  if (n == static_cast<ssize_t>(line.size())) {
    size_ += n;
    return absl::OkStatus();
  }
  if (n > 0) size_ += n;
  return absl::UnavailableError(fmt::format("cannot append to {}: {}", options_.path.string(),
                                            n < 0 ? std::strerror(errno) : "short write"));
}

}  // namespace tessera
