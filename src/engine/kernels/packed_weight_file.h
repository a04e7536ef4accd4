// Prepacked weights shared between processes.
//
// Linear layers reorder their weights into oneDNN's preferred blocked layout at load: a private
// copy per process, so N replicas of one model version would hold N copies. A PackedWeightFile
// holds every packed tensor of a model in one file, written once by the first process that packs
// the model and mapped read-only (MAP_SHARED) by every process that loads it: the page cache
// keeps one copy, and later replicas skip the packing work.
//
// The file is only an optimization, never the truth: each tensor records its oneDNN memory
// descriptor and the loader uses a tensor only where the layout it would choose itself is
// identical; the header also records the oneDNN version and a fingerprint of the source weights
// the caller supplies. Anything that does not match, or a damaged file, is ignored (and
// rewritten by the loader).
//
// Write is atomic (unique temporary file, fsync, rename), so concurrent writers are safe: the
// last rename wins and a reader always maps a complete file. Thread-safe: immutable once open.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace tessera::engine::kernels {

class PackedWeightFile {
 public:
  struct Tensor {
    dnnl::memory::desc desc;
    const void* data = nullptr;  // desc.get_size() bytes
  };

  // Maps `path`. NOT_FOUND when it does not exist; FAILED_PRECONDITION when it was written for
  // other weights (`fingerprint`) or another oneDNN version; DATA_LOSS when it is damaged.
  static absl::StatusOr<std::unique_ptr<PackedWeightFile>> Open(const std::filesystem::path& path,
                                                                uint64_t fingerprint);
  // Writes `tensors` (each desc.get_size() bytes at data) to `path`, atomically.
  static absl::Status Write(const std::filesystem::path& path, uint64_t fingerprint,
                            std::span<const Tensor> tensors);

  // An exclusive advisory lock (flock) on `path`.lock, released when destroyed or when the
  // process dies. A loader holds it from Open to Write, so processes that start together pack
  // once and all map the same file instead of racing to write their own.
  class Lock {
   public:
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    friend class PackedWeightFile;
    explicit Lock(int fd) : fd_(fd) {}
    int fd_;
  };
  // Blocks until the lock is ours. Errors when the lock file cannot be created.
  static absl::StatusOr<std::unique_ptr<Lock>> Acquire(const std::filesystem::path& path);

  ~PackedWeightFile();
  PackedWeightFile(const PackedWeightFile&) = delete;
  PackedWeightFile& operator=(const PackedWeightFile&) = delete;

  const std::vector<Tensor>& tensors() const { return tensors_; }
  size_t mapped_bytes() const { return size_; }

 private:
  PackedWeightFile(void* base, size_t size) : base_(base), size_(size) {}
  void* base_;
  size_t size_;
  std::vector<Tensor> tensors_;  // pointing into the mapping
};

}  // namespace tessera::engine::kernels
