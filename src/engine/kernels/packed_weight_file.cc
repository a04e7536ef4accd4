#include "engine/kernels/packed_weight_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "fmt/format.h"
#include "oneapi/dnnl/dnnl_version.h"

namespace tessera::engine::kernels {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'R', 'P', 'A', 'K', '0', '1'};
constexpr uint64_t kAlignment = 4096;  // every tensor starts on a page (mmap is page-aligned)

// oneDNN 2.x memory descriptors are plain C structs without pointers: stored as bytes, and only
// read back by the same oneDNN version (checked in the header).
struct FileHeader {
  char magic[8];
  uint32_t dnnl_version[3];
  uint32_t desc_bytes;
  uint64_t fingerprint;
  uint64_t count;
};
struct TensorRecord {
  dnnl_memory_desc_t desc;
  uint64_t offset;
  uint64_t bytes;
};

uint64_t AlignUp(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

FileHeader CurrentHeader(uint64_t fingerprint, uint64_t count) {
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.dnnl_version[0] = DNNL_VERSION_MAJOR;
  h.dnnl_version[1] = DNNL_VERSION_MINOR;
  h.dnnl_version[2] = DNNL_VERSION_PATCH;
  h.desc_bytes = sizeof(dnnl_memory_desc_t);
  h.fingerprint = fingerprint;
  h.count = count;
  return h;
}

absl::Status Errno(std::string_view what, const std::filesystem::path& path) {
  return absl::InternalError(fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
}

bool WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

PackedWeightFile::Lock::~Lock() { ::close(fd_); }  // closing releases the flock

absl::StatusOr<std::unique_ptr<PackedWeightFile::Lock>> PackedWeightFile::Acquire(
    const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  const std::filesystem::path lock_path = path.string() + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", lock_path);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      absl::Status status = Errno("cannot lock", lock_path);
      ::close(fd);
      return status;
    }
  }
  return std::unique_ptr<Lock>(new Lock(fd));
}

PackedWeightFile::~PackedWeightFile() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

absl::StatusOr<std::unique_ptr<PackedWeightFile>> PackedWeightFile::Open(
    const std::filesystem::path& path, uint64_t fingerprint) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return absl::NotFoundError(fmt::format("{} does not exist", path.string()));
    return Errno("cannot open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Errno("cannot stat", path);
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < sizeof(FileHeader)) {
    ::close(fd);
    return absl::DataLossError(fmt::format("{} is truncated ({} bytes)", path.string(), size));
  }
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping keeps the file
  if (base == MAP_FAILED) return Errno("cannot map", path);
  std::unique_ptr<PackedWeightFile> file(new PackedWeightFile(base, size));

  FileHeader header;
  std::memcpy(&header, base, sizeof(header));
  const FileHeader expected = CurrentHeader(fingerprint, header.count);
  if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(fmt::format("{} is not a packed weight file", path.string()));
  }
  if (std::memcmp(header.dnnl_version, expected.dnnl_version, sizeof(header.dnnl_version)) != 0 ||
      header.desc_bytes != expected.desc_bytes) {
    return absl::FailedPreconditionError(
        fmt::format("{} was written by oneDNN {}.{}.{}", path.string(), header.dnnl_version[0],
                    header.dnnl_version[1], header.dnnl_version[2]));
  }
  if (header.fingerprint != fingerprint) {
    return absl::FailedPreconditionError(
        fmt::format("{} was packed from other weights", path.string()));
  }
  const uint64_t records_end = sizeof(FileHeader) + header.count * sizeof(TensorRecord);
  if (header.count > size / sizeof(TensorRecord) || records_end > size) {
    return absl::DataLossError(
        fmt::format("{}: {} tensors do not fit", path.string(), header.count));
  }
  const auto* bytes = static_cast<const char*>(base);
  for (uint64_t i = 0; i < header.count; ++i) {
    TensorRecord record;
    std::memcpy(&record, bytes + sizeof(FileHeader) + i * sizeof(TensorRecord), sizeof(record));
    dnnl::memory::desc desc(record.desc);
    if (record.offset % kAlignment != 0 || record.offset > size ||
        record.bytes > size - record.offset || record.bytes != desc.get_size()) {
      return absl::DataLossError(fmt::format("{}: tensor {} is out of bounds", path.string(), i));
    }
    file->tensors_.push_back(Tensor{.desc = desc, .data = bytes + record.offset});
  }
  return file;
}

absl::Status PackedWeightFile::Write(const std::filesystem::path& path, uint64_t fingerprint,
                                     std::span<const Tensor> tensors) {
  static std::atomic<uint64_t> counter{0};
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  const std::filesystem::path tmp =
      path.string() + fmt::format(".tmp.{}.{}", ::getpid(), counter.fetch_add(1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  const FileHeader header = CurrentHeader(fingerprint, tensors.size());
  std::vector<TensorRecord> records(tensors.size());
  uint64_t offset = AlignUp(sizeof(FileHeader) + tensors.size() * sizeof(TensorRecord));
  for (size_t i = 0; i < tensors.size(); ++i) {
    records[i].desc = tensors[i].desc.data;
    records[i].offset = offset;
    records[i].bytes = tensors[i].desc.get_size();
    offset = AlignUp(offset + records[i].bytes);
  }
  bool ok = WriteAll(fd, &header, sizeof(header)) &&
            WriteAll(fd, records.data(), records.size() * sizeof(TensorRecord));
  uint64_t written = sizeof(header) + records.size() * sizeof(TensorRecord);
  static const char kZeros[kAlignment] = {};
  for (size_t i = 0; ok && i < tensors.size(); ++i) {
    ok = WriteAll(fd, kZeros, records[i].offset - written) &&
         WriteAll(fd, tensors[i].data, records[i].bytes);
    written = records[i].offset + records[i].bytes;
  }
  ok = ok && ::fsync(fd) == 0;
  if (::close(fd) != 0) ok = false;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status status = Errno("cannot write", tmp);
    std::filesystem::remove(tmp, ec);
    return status;
  }
  return absl::OkStatus();
}

}  // namespace tessera::engine::kernels
