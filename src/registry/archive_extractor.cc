#include "registry/archive_extractor.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "registry/file_util.h"

namespace tessera::registry {
namespace {

namespace fs = std::filesystem;

struct ArchiveCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};

// A relative, normalized path with no ".." and no empty result, or an error.
absl::StatusOr<fs::path> SafeEntryPath(const char* raw) {
  if (raw == nullptr || *raw == '\0') {
    return absl::InvalidArgumentError("the archive has an entry without a name");
  }
  std::string name(raw);
  fs::path p(name);
  if (p.is_absolute()) {
    return absl::InvalidArgumentError(fmt::format(
        "the archive entry \"{}\" has an absolute path; only relative paths are allowed", name));
  }
  for (const auto& part : p) {
    if (part == "..") {
      return absl::InvalidArgumentError(fmt::format(
          "the archive entry \"{}\" contains \"..\"; it could write outside the artifact", name));
    }
  }
  fs::path normal = p.lexically_normal();
  if (normal.empty() || normal == "." || normal == "./") return fs::path();
  std::string s = normal.string();
  while (!s.empty() && s.back() == '/') s.pop_back();
  return fs::path(s);
}

// libarchive's message for the last error; it has none (nullptr, which fmt refuses by throwing)
// for some truncated or corrupt inputs.
const char* ArchiveError(archive* a) {
  const char* message = archive_error_string(a);
  return message != nullptr ? message : "unknown error";
}

// What the archive has made so far, by relative path. An entry may not sit under a file nor be a
// file where a folder is (explicit or implied by a deeper entry): checked here, because the
// filesystem would refuse it with an errno the caller cannot tell from a server fault.
struct ExtractedPaths {
  std::set<std::string> files;
  std::set<std::string> folders;

  absl::Status CheckParents(const fs::path& rel, const std::string& shown) const {
    fs::path prefix;
    for (auto part = rel.begin(); std::next(part) != rel.end(); ++part) {
      prefix /= *part;
      if (files.contains(prefix.string())) {
        return absl::InvalidArgumentError(fmt::format(
            "the archive entry \"{}\" is inside \"{}\", which the archive holds as a file", shown,
            prefix.string()));
      }
    }
    return absl::OkStatus();
  }
  void AddFolder(const fs::path& rel) {
    fs::path prefix;
    for (const auto& part : rel) folders.insert((prefix /= part).string());
  }
};

}  // namespace

bool LooksLikeTarArchive(const std::string& path) {
  return std::string_view(path).ends_with(".tar") || std::string_view(path).ends_with(".tar.gz") ||
         std::string_view(path).ends_with(".tgz");
}

namespace {

using ArchivePtr = std::unique_ptr<archive, ArchiveCloser>;

ArchivePtr NewTarReader() {
  ArchivePtr a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_none(a.get());
  return a;
}

// Writes all of `bytes` to `fd`.
absl::Status WriteAll(int fd, const char* bytes, size_t size, const fs::path& target) {
  for (size_t off = 0; off < size;) {
    const ssize_t w = ::write(fd, bytes + off, size - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return ErrnoStatus(errno, "write " + target.string());
    off += static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

// libarchive's reader of a stream: waits for bytes in slices of 50 ms, so that a cancel is
// noticed while the stream is silent (a stalled download).
struct StreamReader {
  int fd = -1;
  const CancellationToken* cancel = nullptr;
  std::vector<char> buffer = std::vector<char>(1 << 16);
};

la_ssize_t ReadStream(archive* a, void* client, const void** out) {
  auto* reader = static_cast<StreamReader*>(client);
  while (true) {
    if (reader->cancel->cancelled()) {
      archive_set_error(a, ECANCELED, "operation cancelled");
      return -1;
    }
    pollfd wait{.fd = reader->fd, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&wait, 1, 50);
    if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
    if (ready < 0) {
      archive_set_error(a, errno, "waiting for the archive's bytes: %s", std::strerror(errno));
      return -1;
    }
    const ssize_t n = ::read(reader->fd, reader->buffer.data(), reader->buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      archive_set_error(a, errno, "reading the archive: %s", std::strerror(errno));
      return -1;
    }
    *out = reader->buffer.data();
    return n;
  }
}

absl::Status ExtractOpened(archive* a, const std::string& archive_name, const fs::path& dest,
                           const ExtractLimits& limits, const CancellationToken& cancel,
                           const UploadBudget& budget, ExtractObserver* observer) {
  int entries = 0;
  int64_t total = 0;
  ExtractedPaths made;
  std::vector<char> buf(1 << 16);
  while (true) {
    if (cancel.cancelled()) return absl::CancelledError("operation cancelled");
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(a, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return absl::InvalidArgumentError(fmt::format(
          "the archive {} is corrupt: {}", archive_name, ArchiveError(a)));
    }
    if (++entries > limits.max_entries) {
      return absl::InvalidArgumentError(
          fmt::format("the archive has more than {} entries", limits.max_entries));
    }
    const char* raw_name = archive_entry_pathname(entry);
    auto rel = SafeEntryPath(raw_name);
    if (!rel.ok()) return rel.status();
    std::string shown = raw_name ? raw_name : "";
    if (archive_entry_hardlink(entry) != nullptr) {
      return absl::InvalidArgumentError(fmt::format(
          "the archive entry \"{}\" is a hard link; links are not allowed in model archives",
          shown));
    }
    mode_t type = archive_entry_filetype(entry);
    if (type == AE_IFDIR) {
      if (rel->empty()) continue;
      RETURN_IF_ERROR(made.CheckParents(*rel, shown));
      if (made.files.contains(rel->string())) {
        return absl::InvalidArgumentError(
            fmt::format("the archive lists \"{}\" as both a file and a folder", rel->string()));
      }
      made.AddFolder(*rel);
      std::error_code ec;
      fs::create_directories(dest / *rel, ec);
      if (ec)
        return absl::InternalError(
            fmt::format("create {}: {}", (dest / *rel).string(), ec.message()));
      continue;
    }
    if (type == AE_IFLNK) {
      return absl::InvalidArgumentError(fmt::format(
          "the archive entry \"{}\" is a symbolic link; links are not allowed in model archives",
          shown));
    }
    if (type != AE_IFREG) {
      return absl::InvalidArgumentError(fmt::format(
          "the archive entry \"{}\" is not a regular file or folder (device, FIFO or socket)",
          shown));
    }
    if (rel->empty()) return absl::InvalidArgumentError("the archive has a file entry named \".\"");
    RETURN_IF_ERROR(made.CheckParents(*rel, shown));
    if (made.folders.contains(rel->string())) {
      return absl::InvalidArgumentError(
          fmt::format("the archive lists \"{}\" as both a folder and a file", rel->string()));
    }
    if (!made.files.insert(rel->string()).second) {
      return absl::InvalidArgumentError(
          fmt::format("the archive lists \"{}\" twice", rel->string()));
    }
    made.AddFolder(rel->parent_path());
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > limits.max_file_bytes) {
      return absl::InvalidArgumentError(
          fmt::format("the archive entry \"{}\" has {} bytes, more than the limit of {} ({})",
                      shown, archive_entry_size(entry), limits.max_file_bytes, kMaxArtifactFlag));
    }
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
      const int64_t declared = total + archive_entry_size(entry);
      if (declared > limits.max_total_bytes) {
        return absl::InvalidArgumentError(fmt::format(
            "the archive's files up to \"{}\" have {} bytes, more than the limit of {} ({})", shown,
            declared, limits.max_total_bytes, kMaxArtifactFlag));
      }
      if (absl::Status fits = budget.Check(declared, fmt::format("the archive's files up to "
                                                                 "\"{}\"",
                                                                 shown));
          !fits.ok()) {
        return fits;
      }
    }
    fs::path target = dest / *rel;
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      return absl::InternalError(
          fmt::format("create {}: {}", target.parent_path().string(), ec.message()));
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, "create " + target.string());
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0 &&
        ::ftruncate(fd, archive_entry_size(entry)) != 0) {
      const int error = errno;
      ::close(fd);
      return ErrnoStatus(error, "size " + target.string());
    }
    int64_t written = 0;
    absl::Status status;
    while (status.ok()) {
      if (cancel.cancelled()) {
        status = absl::CancelledError("operation cancelled");
        break;
      }
      la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        status = absl::InvalidArgumentError(fmt::format("the archive {} is corrupt at \"{}\": {}",
                                                        archive_name, shown,
                                                        ArchiveError(a)));
        break;
      }
      written += n;
      total += n;
      if (written > limits.max_file_bytes || total > limits.max_total_bytes) {
        status = absl::InvalidArgumentError(fmt::format(
            "the archive expands to more than its limit ({} bytes per file, {} in total; {})",
            limits.max_file_bytes, limits.max_total_bytes, kMaxArtifactFlag));
        break;
      }
      status = budget.Check(total, "the archive's contents");
      if (!status.ok()) break;
      status = WriteAll(fd, buf.data(), static_cast<size_t>(n), target);
      if (status.ok() && observer != nullptr) {
        status = observer->OnFileProgress(*rel, written, /*complete=*/false);
      }
    }
    ::close(fd);
    if (!status.ok()) return status;
    if (observer != nullptr) RETURN_IF_ERROR(observer->OnFileProgress(*rel, written, true));
  }
  if (entries == 0)
    return absl::InvalidArgumentError(
        fmt::format("the archive {} is empty", archive_name));
  return absl::OkStatus();
}

}  // namespace

absl::Status ExtractTarArchive(const fs::path& archive_path, const fs::path& dest,
                               const ExtractLimits& limits, const CancellationToken& cancel,
                               const UploadBudget& budget, ExtractObserver* observer) {
  ArchivePtr a = NewTarReader();
  if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(fmt::format(
        "cannot read archive {}: {}", archive_path.string(), ArchiveError(a.get())));
  }
  return ExtractOpened(a.get(), archive_path.string(), dest, limits, cancel, budget, observer);
}

absl::Status ExtractTarStream(int fd, const std::string& name, const fs::path& dest,
                              const ExtractLimits& limits, const CancellationToken& cancel,
                              const UploadBudget& budget, ExtractObserver* observer) {
  ArchivePtr a = NewTarReader();
  StreamReader reader{.fd = fd, .cancel = &cancel};
  if (archive_read_open(a.get(), &reader, nullptr, ReadStream, nullptr) != ARCHIVE_OK) {
    if (cancel.cancelled()) return absl::CancelledError("operation cancelled");
    return absl::InvalidArgumentError(
        fmt::format("cannot read archive {}: {}", name, ArchiveError(a.get())));
  }
  absl::Status extracted = ExtractOpened(a.get(), name, dest, limits, cancel, budget, observer);
  if (!extracted.ok() && cancel.cancelled()) return absl::CancelledError("operation cancelled");
  return extracted;
}

}  // namespace tessera::registry
