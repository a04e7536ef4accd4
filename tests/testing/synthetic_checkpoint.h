// Small Hugging Face-shaped checkpoint folders for registry and control tests: config.json,
// preprocessor_config.json and a model.safetensors with a few F32 tensors. Different seeds give
// different bytes (so different digests); the same seed gives identical files (so dedup).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace tessera::testing {

// Writes the three files into `dir` (created if needed). `weights_bytes` is approximate.
void WriteTinyCheckpoint(const std::filesystem::path& dir, uint32_t seed,
                         int64_t weights_bytes = 4096);

// Overwrites model.safetensors in `dir` with a header length larger than the file.
void CorruptSafetensorsHeader(const std::filesystem::path& dir);

// A fresh directory under the system temp dir, removed on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace tessera::testing
