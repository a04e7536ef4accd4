// Content-addressed artifact store on local disk.
//
// Layout under Options::data_dir:
//   artifacts/blobs/sha256/ab/cdef...   one read-only file per distinct content (name: the
//                                       sha256 hex, first two characters as the folder)
//   artifacts/tmp/                      files being written (swept at startup)
//   models/{project}/{location}/{model}/{version}/
//                                       a version's folder for replicas: hard links to the blobs
//                                       (copies where linking fails), so replicas can mmap
//   models/.staging/                    folders being assembled (swept at startup)
//
// Crash safety: a blob is written to tmp/, fsynced, then renamed into place without replacing
// (so it appears whole or not at all) and its folder fsynced; a version folder is assembled in
// .staging/ and renamed into place. The metadata row of a version is committed only after all
// its blobs are in place, so a crash at any moment leaves at most temporary files and blobs
// no version references; Sweep() deletes both at startup.
//
// Concurrency: thread-safe. Blobs an unfinished upload relies on are *pinned* (BlobPins) so a
// concurrent garbage collection cannot delete them between "the blob exists" and "the version
// row is committed".
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "registry/cancellation.h"
#include "registry/model.h"
#include "registry/resource_name.h"
#include "registry/upload_budget.h"

namespace tessera::registry {

// One file to ingest: where to read it, and its path inside the artifact.
struct SourceFile {
  std::filesystem::path source;  // absolute, readable
  std::string path;              // relative, '/'-separated, normalized
};

class ArtifactStore;

struct DiskSpace {
  int64_t available_bytes = 0;  // what an unprivileged writer may still use
  int64_t total_bytes = 0;
};
// statvfs(3) of the filesystem holding `path`.
absl::StatusOr<DiskSpace> StatFilesystem(const std::filesystem::path& path);
// 5% of the filesystem, at least 1 GiB, at most 16 GiB (never more than a fifth of a small disk).
int64_t DefaultMinFreeBytes(int64_t filesystem_bytes);

// Keeps blobs from garbage collection until destroyed. Move-only.
class BlobPins {
 public:
  BlobPins() = default;
  BlobPins(BlobPins&& other) noexcept;
  BlobPins& operator=(BlobPins&& other) noexcept;
  ~BlobPins();

 private:
  friend class ArtifactStore;

  struct DiskSpace {
    int64_t available_bytes = 0;  // what an unprivileged writer may still use
    int64_t total_bytes = 0;
  };
  // statvfs(3) of the filesystem holding `path`.
  absl::StatusOr<DiskSpace> StatFilesystem(const std::filesystem::path& path);
  // 5% of the filesystem, at least 1 GiB, at most 16 GiB (never more than a fifth of a small disk).
  int64_t DefaultMinFreeBytes(int64_t filesystem_bytes);
  void Release();
  ArtifactStore* store_ = nullptr;
  std::vector<std::string> digests_;
};

struct IngestResult {
  ArtifactManifest manifest;
  BlobPins pins;
  int64_t bytes_copied = 0;  // bytes actually written (the rest were already stored)
};

class ArtifactStore {
 public:
  struct Options {
    std::filesystem::path data_dir;
    int64_t max_file_bytes = int64_t{64} << 30;   // one file
    int64_t max_total_bytes = int64_t{64} << 30;  // one artifact
    int max_files = 10000;                        // one artifact
    // Bytes the store's filesystem keeps free: an upload that would leave less is refused with
    // RESOURCE_EXHAUSTED before it writes. Negative: DefaultMinFreeBytes(filesystem size).
    int64_t min_free_bytes = -1;
    // The filesystem holding `data_dir`: statvfs(3) unless replaced (tests fake a full disk).
    std::function<absl::StatusOr<DiskSpace>(const std::filesystem::path&)> disk_space;
  };

  // Creates the folders. Does not sweep (call Sweep once the metadata store is open).
  static absl::StatusOr<std::unique_ptr<ArtifactStore>> Create(const Options& options);

  // Copies `files` into the blob store (each hashed first; content already stored is not copied
  // again, and is verified to be unchanged while copying when it is). Returns the manifest,
  // sorted by path, with the blobs pinned. The files' total size is checked against Budget()
  // before the first byte is copied, and each copy stops at its file's stated size.
  // `progress(done_bytes, total_bytes)` is called between files; `cancel` is checked between files
  // and between chunks. INVALID_ARGUMENT for limits (too many files, too large), RESOURCE_EXHAUSTED
  // when the disk lacks room, ABORTED if a source file changed while being copied.
  absl::StatusOr<IngestResult> Ingest(
      const std::vector<SourceFile>& files, const CancellationToken& cancel,
      const std::function<void(int64_t, int64_t)>& progress = nullptr);

  // Assembles the manifest as a folder under models/.staging/ (for validation before commit).
  // The caller either Promote()s it or removes it (RemoveStaging).
  absl::StatusOr<std::filesystem::path> Stage(const ArtifactManifest& manifest);
  // Moves a staged folder to the version's place (replacing nothing: if the version's folder
  // already exists, the staged one is removed). Returns the version's folder.
  absl::StatusOr<std::filesystem::path> Promote(const std::filesystem::path& staged,
                                                const ModelName& version);
  void RemoveStaging(const std::filesystem::path& staged);

  // The version's folder, assembling it from the blobs if missing (after a crash between commit
  // and Promote, or after the folder was deleted). NOT_FOUND if a blob is missing.
  absl::StatusOr<std::filesystem::path> Materialize(const ModelName& version,
                                                    const ArtifactManifest& manifest);
  // Where Materialize puts the folder (name must carry a version id).
  std::filesystem::path VersionDir(const ModelName& version) const;
  absl::Status RemoveVersionDir(const ModelName& version);

  std::filesystem::path BlobPath(const std::string& sha256) const;
  bool HasBlob(const std::string& sha256) const;
  // Re-hashes a blob: OK if present with the right content, DATA_LOSS otherwise.
  absl::Status VerifyBlob(const std::string& sha256) const;
  // Every blob digest present on disk.
  absl::StatusOr<std::set<std::string>> ListBlobs() const;

  // What an upload may write now: the artifact cap (max_total_bytes) and the free space above
  // the reserve, probed afresh. INTERNAL when the filesystem cannot be examined.
  absl::StatusOr<UploadBudget> Budget() const;

  // A fresh empty folder for one upload's scratch work (archive download and extraction),
  // removed by the caller or by Sweep.
  absl::StatusOr<std::filesystem::path> NewScratchDir();

  // Deletes blobs that `referenced()` does not return and no upload has pinned. `referenced` is
  // called with the store's lock held, so a pin released after a commit is either seen as a pin
  // or its commit is seen by `referenced`.
  absl::Status CollectGarbage(
      const std::function<absl::StatusOr<std::set<std::string>>()>& referenced);

  // Startup: removes temporary files, staging and scratch folders, version folders not in
  // `live_versions`, and blobs not in `referenced`. Call before any upload starts.
  absl::Status Sweep(const std::set<std::string>& referenced,
                     const std::vector<ModelName>& live_versions);

  const Options& options() const { return options_; }
  // Bytes written into new blobs since the store was created (what uploads actually copied).
  int64_t blob_bytes_written() const { return blob_bytes_written_.load(std::memory_order_relaxed); }

 private:
  friend class BlobPins;
  explicit ArtifactStore(const Options& options) : options_(options) {}

  // Ensures the blob of `file` (already hashed as `sha256`) exists, copying if needed.
  absl::StatusOr<int64_t> StoreBlob(const std::filesystem::path& source, const std::string& sha256,
                                    int64_t size, const CancellationToken& cancel);
  void Pin(const std::string& sha256);
  void Unpin(const std::vector<std::string>& digests);
  absl::Status AssembleInto(const std::filesystem::path& dir, const ArtifactManifest& manifest);

  const Options options_;
  std::atomic<uint64_t> tmp_counter_{0};
  std::atomic<int64_t> blob_bytes_written_{0};
  absl::Mutex mu_;
  std::map<std::string, int> pins_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::registry
