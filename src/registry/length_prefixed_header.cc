#include "registry/length_prefixed_header.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace tessera::registry {

bool LengthPrefixedHeaderArrived(const std::filesystem::path& path, const ArrivingFile& file,
                                 uint64_t max_header_bytes) {
  if (file.complete) return true;
  if (file.bytes_written < 8) return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  unsigned char prefix[8];
  ssize_t n;
  do {
    n = ::pread(fd, prefix, sizeof(prefix), 0);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof(prefix))) return false;
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | prefix[i];
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return false;
  // size >= 8: bytes_written >= 8 of it are on disk.
  if (header_bytes > max_header_bytes || header_bytes > size - 8) return true;
  return static_cast<uint64_t>(file.bytes_written) >= 8 + header_bytes;
}

}  // namespace tessera::registry
