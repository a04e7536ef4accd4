#include "registry/artifact_store.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "registry/file_util.h"
#include "registry/sha256.h"
#include "spdlog/spdlog.h"

namespace tessera::registry {

namespace fs = std::filesystem;

// ---- BlobPins ----

BlobPins::BlobPins(BlobPins&& other) noexcept
    : store_(other.store_), digests_(std::move(other.digests_)) {
  other.store_ = nullptr;
  other.digests_.clear();
}

BlobPins& BlobPins::operator=(BlobPins&& other) noexcept {
  if (this != &other) {
    Release();
    store_ = other.store_;
    digests_ = std::move(other.digests_);
    other.store_ = nullptr;
    other.digests_.clear();
  }
  return *this;
}

BlobPins::~BlobPins() { Release(); }

void BlobPins::Release() {
  if (store_ != nullptr && !digests_.empty()) store_->Unpin(digests_);
  digests_.clear();
  store_ = nullptr;
}

// ---- ArtifactStore ----

absl::StatusOr<std::unique_ptr<ArtifactStore>> ArtifactStore::Create(const Options& options) {
  if (options.data_dir.empty())
    return absl::InvalidArgumentError("ArtifactStore: data_dir is empty");
  std::unique_ptr<ArtifactStore> store(new ArtifactStore(options));
  for (const fs::path& dir :
       {options.data_dir / "artifacts" / "blobs" / "sha256", options.data_dir / "artifacts" / "tmp",
        options.data_dir / "models" / ".staging", options.data_dir / "uploads"}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      return absl::UnavailableError(
          fmt::format("cannot create artifact folder {}: {}", dir.string(), ec.message()));
    }
  }
  return store;
}

fs::path ArtifactStore::BlobPath(const std::string& sha256) const {
  return options_.data_dir / "artifacts" / "blobs" / "sha256" / sha256.substr(0, 2) /
         sha256.substr(2);
}

bool ArtifactStore::HasBlob(const std::string& sha256) const {
  std::error_code ec;
  return fs::is_regular_file(BlobPath(sha256), ec);
}

absl::Status ArtifactStore::VerifyBlob(const std::string& sha256) const {
  auto actual = Sha256File(BlobPath(sha256));
  if (!actual.ok()) {
    return absl::DataLossError(
        fmt::format("blob {} is missing: {}", sha256, std::string(actual.status().message())));
  }
  if (*actual != sha256) {
    return absl::DataLossError(
        fmt::format("blob {} is corrupt (content hashes to {})", sha256, *actual));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::set<std::string>> ArtifactStore::ListBlobs() const {
  std::set<std::string> out;
  std::error_code ec;
  fs::path root = options_.data_dir / "artifacts" / "blobs" / "sha256";
  for (const auto& prefix : fs::directory_iterator(root, ec)) {
    if (!prefix.is_directory()) continue;
    for (const auto& blob : fs::directory_iterator(prefix.path(), ec)) {
      std::string digest = prefix.path().filename().string() + blob.path().filename().string();
      if (IsSha256Hex(digest)) out.insert(digest);
    }
  }
  if (ec) return absl::InternalError(fmt::format("listing {}: {}", root.string(), ec.message()));
  return out;
}

void ArtifactStore::Pin(const std::string& sha256) {
  absl::MutexLock lock(&mu_);
  ++pins_[sha256];
}

void ArtifactStore::Unpin(const std::vector<std::string>& digests) {
  absl::MutexLock lock(&mu_);
  for (const auto& d : digests) {
    auto it = pins_.find(d);
    if (it != pins_.end() && --it->second == 0) pins_.erase(it);
  }
}

absl::StatusOr<int64_t> ArtifactStore::StoreBlob(const fs::path& source, const std::string& sha256,
                                                 int64_t size, const CancellationToken& cancel) {
  fs::path final_path = BlobPath(sha256);
  if (HasBlob(sha256)) return 0;
  fs::path tmp_dir = options_.data_dir / "artifacts" / "tmp";
  fs::path tmp = tmp_dir / fmt::format("blob-{}-{}", static_cast<int>(::getpid()),
                                       tmp_counter_.fetch_add(1, std::memory_order_relaxed));
  // No more than the size the budget was checked against: a file that grows while it is copied
  // stops at once instead of filling the disk.
  auto copied = CopyAndHash(source, tmp, size, cancel);
  if (!copied.ok()) {
    std::error_code ec;
    fs::remove(tmp, ec);
    if (absl::IsInvalidArgument(copied.status())) {
      return absl::AbortedError(
          fmt::format("{} grew while it was being uploaded; retry the upload", source.string()));
    }
    return copied.status();
  }
  blob_bytes_written_.fetch_add(copied->bytes, std::memory_order_relaxed);
  if (copied->sha256 != sha256 || copied->bytes != size) {
    std::error_code ec;
    fs::remove(tmp, ec);
    return absl::AbortedError(
        fmt::format("{} changed while it was being uploaded; retry the upload", source.string()));
  }
  ::chmod(tmp.c_str(), 0444);  // blobs are immutable; version folders hard-link them
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  if (ec) {
    fs::remove(tmp, ec);
    return absl::InternalError(
        fmt::format("create {}: {}", final_path.parent_path().string(), ec.message()));
  }
  ASSIGN_OR_RETURN(bool placed, RenameNoReplace(tmp, final_path));
  if (!placed) {
    fs::remove(tmp, ec);  // a concurrent upload stored the same content first
    return 0;
  }
  RETURN_IF_ERROR(FsyncDir(final_path.parent_path()));
  return copied->bytes;
}

absl::StatusOr<IngestResult> ArtifactStore::Ingest(
    const std::vector<SourceFile>& files, const CancellationToken& cancel,
    const std::function<void(int64_t, int64_t)>& progress) {
  if (files.empty()) return absl::InvalidArgumentError("the artifact contains no files");
  if (static_cast<int64_t>(files.size()) > options_.max_files) {
    return absl::InvalidArgumentError(fmt::format(
        "the artifact has {} files, more than the limit of {}", files.size(), options_.max_files));
  }
  int64_t total = 0;
  std::vector<int64_t> sizes;
  for (const SourceFile& f : files) {
    std::error_code ec;
    int64_t size = static_cast<int64_t>(fs::file_size(f.source, ec));
    if (ec) return ErrnoStatus(ec.value(), "stat " + f.source.string());
    if (size > options_.max_file_bytes) {
      return absl::InvalidArgumentError(
          fmt::format("artifact file {} has {} bytes, more than the limit of {} ({})", f.path, size,
                      options_.max_file_bytes, kMaxArtifactFlag));
    }
    total += size;
    sizes.push_back(size);
  }
  ASSIGN_OR_RETURN(UploadBudget budget, Budget());
  RETURN_IF_ERROR(budget.Check(total, "the artifact"));
  IngestResult result;
  result.pins.store_ = this;
  int64_t done = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    RETURN_IF_ERROR(cancel.Check());
    const SourceFile& f = files[i];
    ASSIGN_OR_RETURN(std::string digest, Sha256File(f.source));
    // Pin before checking existence: a garbage collection either ran before (and we copy) or
    // sees the pin (and keeps the blob).
    Pin(digest);
    result.pins.digests_.push_back(digest);
    ASSIGN_OR_RETURN(int64_t copied, StoreBlob(f.source, digest, sizes[i], cancel));
    result.bytes_copied += copied;
    result.manifest.files.push_back({f.path, digest, sizes[i]});
    done += sizes[i];
    if (progress) progress(done, total);
  }
  std::sort(result.manifest.files.begin(), result.manifest.files.end(),
            [](const ArtifactFile& a, const ArtifactFile& b) { return a.path < b.path; });
  for (size_t i = 1; i < result.manifest.files.size(); ++i) {
    if (result.manifest.files[i].path == result.manifest.files[i - 1].path) {
      return absl::InvalidArgumentError(
          fmt::format("the artifact lists {} twice", result.manifest.files[i].path));
    }
  }
  return result;
}

absl::Status ArtifactStore::AssembleInto(const fs::path& dir, const ArtifactManifest& manifest) {
  for (const ArtifactFile& f : manifest.files) {
    fs::path blob = BlobPath(f.sha256);
    fs::path target = dir / fs::path(f.path);
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      return absl::InternalError(
          fmt::format("create {}: {}", target.parent_path().string(), ec.message()));
    if (::link(blob.c_str(), target.c_str()) == 0) continue;
    int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(
          fmt::format("blob {} of {} is missing from the artifact store", f.sha256, f.path));
    }
    // Cross-device or link-count limits: fall back to a copy (verified by its hash).
    ASSIGN_OR_RETURN(CopyResult copy,
                     CopyAndHash(blob, target, options_.max_file_bytes, CancellationToken()));
    if (copy.sha256 != f.sha256) {
      return absl::DataLossError(fmt::format("blob {} is corrupt", f.sha256));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<fs::path> ArtifactStore::Stage(const ArtifactManifest& manifest) {
  ASSIGN_OR_RETURN(fs::path dir, MakeTempDir(options_.data_dir / "models" / ".staging", "v-"));
  absl::Status status = AssembleInto(dir, manifest);
  if (!status.ok()) {
    RemoveTreeQuietly(dir);
    return status;
  }
  return dir;
}

void ArtifactStore::RemoveStaging(const fs::path& staged) { RemoveTreeQuietly(staged); }

fs::path ArtifactStore::VersionDir(const ModelName& version) const {
  return options_.data_dir / "models" / version.parent.project / version.parent.location /
         version.model_id / version.version;
}

absl::StatusOr<fs::path> ArtifactStore::Promote(const fs::path& staged, const ModelName& version) {
  fs::path target = VersionDir(version);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) {
    RemoveStaging(staged);
    return absl::InternalError(
        fmt::format("create {}: {}", target.parent_path().string(), ec.message()));
  }
  // rename(2) of a folder onto an existing non-empty folder fails, so an existing version
  // folder is never replaced.
  if (::rename(staged.c_str(), target.c_str()) != 0) {
    int err = errno;
    RemoveStaging(staged);
    if (err != EEXIST && err != ENOTEMPTY) {
      return ErrnoStatus(err, fmt::format("rename {} to {}", staged.string(), target.string()));
    }
    return target;
  }
  RETURN_IF_ERROR(FsyncDir(target.parent_path()));
  return target;
}

absl::StatusOr<fs::path> ArtifactStore::Materialize(const ModelName& version,
                                                    const ArtifactManifest& manifest) {
  fs::path target = VersionDir(version);
  std::error_code ec;
  if (fs::is_directory(target, ec)) return target;
  ASSIGN_OR_RETURN(fs::path staged, Stage(manifest));
  return Promote(staged, version);
}

absl::Status ArtifactStore::RemoveVersionDir(const ModelName& version) {
  std::error_code ec;
  fs::remove_all(VersionDir(version), ec);
  if (ec)
    return absl::InternalError(
        fmt::format("remove {}: {}", VersionDir(version).string(), ec.message()));
  // The model's folder goes with its last version (remove() refuses a non-empty folder).
  fs::remove(VersionDir(version).parent_path(), ec);
  return absl::OkStatus();
}

absl::StatusOr<DiskSpace> StatFilesystem(const fs::path& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return ErrnoStatus(errno, "statvfs " + path.string());
  const auto unit = static_cast<int64_t>(st.f_frsize != 0 ? st.f_frsize : st.f_bsize);
  return DiskSpace{static_cast<int64_t>(st.f_bavail) * unit,
                   static_cast<int64_t>(st.f_blocks) * unit};
}

int64_t DefaultMinFreeBytes(int64_t filesystem_bytes) {
  constexpr int64_t kGiB = int64_t{1} << 30;
  const int64_t five_percent = std::clamp<int64_t>(filesystem_bytes / 20, kGiB, 16 * kGiB);
  return std::min(five_percent, std::max<int64_t>(0, filesystem_bytes / 5));
}

absl::StatusOr<UploadBudget> ArtifactStore::Budget() const {
  absl::StatusOr<DiskSpace> space = options_.disk_space ? options_.disk_space(options_.data_dir)
                                                        : StatFilesystem(options_.data_dir);
  if (!space.ok()) {
    return absl::InternalError(fmt::format("cannot examine the artifact store's filesystem: {}",
                                           std::string(space.status().message())));
  }
  UploadBudget budget;
  budget.cap_bytes = options_.max_total_bytes;
  budget.reserve_bytes = options_.min_free_bytes >= 0 ? options_.min_free_bytes
                                                      : DefaultMinFreeBytes(space->total_bytes);
  budget.room_bytes = space->available_bytes - budget.reserve_bytes;
  return budget;
}

absl::StatusOr<fs::path> ArtifactStore::NewScratchDir() {
  return MakeTempDir(options_.data_dir / "uploads", "upload-");
}

absl::Status ArtifactStore::CollectGarbage(
    const std::function<absl::StatusOr<std::set<std::string>>()>& referenced) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::set<std::string> keep, referenced());
  ASSIGN_OR_RETURN(std::set<std::string> blobs, ListBlobs());
  int removed = 0;
  for (const std::string& digest : blobs) {
    if (keep.count(digest) || pins_.count(digest)) continue;
    std::error_code ec;
    fs::remove(BlobPath(digest), ec);
    if (ec) {
      spdlog::warn("artifact store: cannot remove unreferenced blob {}: {}", digest, ec.message());
    } else {
      ++removed;
    }
  }
  if (removed > 0) spdlog::info("artifact store: removed {} unreferenced blob(s)", removed);
  return absl::OkStatus();
}

absl::Status ArtifactStore::Sweep(const std::set<std::string>& referenced,
                                  const std::vector<ModelName>& live_versions) {
  auto clear_children = [](const fs::path& dir) {
    std::error_code ec;
    int n = 0;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      RemoveTreeQuietly(entry.path());
      ++n;
    }
    if (n > 0) spdlog::info("artifact store: removed {} leftover item(s) from {}", n, dir.string());
  };
  clear_children(options_.data_dir / "artifacts" / "tmp");
  clear_children(options_.data_dir / "models" / ".staging");
  clear_children(options_.data_dir / "uploads");

  std::set<fs::path> live;
  for (const ModelName& v : live_versions) live.insert(VersionDir(v));
  // models/{project}/{location}/{model}/{version}
  fs::path models = options_.data_dir / "models";
  std::error_code ec;
  for (const auto& project : fs::directory_iterator(models, ec)) {
    if (!project.is_directory() || project.path().filename() == ".staging") continue;
    for (const auto& location : fs::directory_iterator(project.path(), ec)) {
      if (!location.is_directory()) continue;
      for (const auto& model : fs::directory_iterator(location.path(), ec)) {
        if (!model.is_directory()) continue;
        for (const auto& version : fs::directory_iterator(model.path(), ec)) {
          if (!live.count(version.path())) {
            spdlog::info("artifact store: removing folder of deleted version {}",
                         version.path().string());
            RemoveTreeQuietly(version.path());
          }
        }
      }
    }
  }
  return CollectGarbage([&]() -> absl::StatusOr<std::set<std::string>> { return referenced; });
}

}  // namespace tessera::registry
