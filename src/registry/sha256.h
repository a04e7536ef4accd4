// Streaming SHA-256 (OpenSSL EVP) for the content-addressed artifact store.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera::registry {

// Not thread-safe; one instance per stream. Hex digests are lowercase.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  void Update(const void* data, size_t size);
  // Finishes the hash; the object must not be updated afterwards.
  std::string HexDigest();

 private:
  void* ctx_;  // EVP_MD_CTX*
};

// Hashes a whole file in 1 MiB chunks. NOT_FOUND / INTERNAL with the path on I/O errors.
absl::StatusOr<std::string> Sha256File(const std::filesystem::path& path);

// True for a 64-character lowercase hex string.
bool IsSha256Hex(std::string_view s);

}  // namespace tessera::registry
