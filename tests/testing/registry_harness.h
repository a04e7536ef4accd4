// RegistryHarness: the registry's real objects (SQLite store, artifact store, operation and
// model services with HfCheckpointValidator) on one data dir, for registry and control tests.
// Open() can be called again after Close() to simulate a restart on the same data dir.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "registry/artifact_source.h"
#include "registry/artifact_store.h"
#include "registry/model_service.h"
#include "registry/operation_service.h"
#include "registry/sqlite/sqlite_metadata_store.h"
#include "testing/hf_checkpoint_validator.h"

namespace tessera::testing {

inline constexpr char kTestParent[] = "projects/test-project/locations/us-central1";
inline constexpr char kTestImage[] =
    "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest";

class RegistryHarness {
 public:
  struct Options {
    std::vector<std::filesystem::path> allowed_roots;
    registry::ArtifactFetcher* fetcher = nullptr;
    int upload_threads = 2;
    int64_t max_artifact_bytes = int64_t{64} << 30;  // the store's and the archives' cap
    int64_t min_free_bytes = 0;                      // the store's free-space reserve
    // Replaces statvfs (a fake small disk); empty: the real filesystem.
    std::function<absl::StatusOr<registry::DiskSpace>(const std::filesystem::path&)> disk_space;
  };

  RegistryHarness(std::filesystem::path data_dir, Options options);
  explicit RegistryHarness(std::filesystem::path data_dir)
      : RegistryHarness(std::move(data_dir), Options{}) {}
  ~RegistryHarness();

  absl::Status Open();
  void Close();

  // An UploadModelRequest for `artifact_uri` with sensible defaults.
  static registry::UploadModelRequest Request(const std::string& artifact_uri,
                                              const std::string& display_name = "my model");
  // Uploads, waits for the operation; returns the operation's error or the new version.
  absl::StatusOr<registry::Model> UploadAndWait(const registry::UploadModelRequest& request);
  absl::StatusOr<registry::Model> UploadFolder(const std::filesystem::path& folder,
                                               const std::string& parent_model = "");
  // Waits (up to 60 s) for an operation to be done.
  absl::StatusOr<registry::Operation> Wait(const registry::Operation& op);

  const std::filesystem::path& data_dir() const { return data_dir_; }
  registry::sqlite::SqliteMetadataStore& store() { return *store_; }
  registry::ArtifactStore& artifacts() { return *artifacts_; }
  registry::OperationService& operations() { return *operations_; }
  registry::ModelService& models() { return *models_; }
  Clock& clock() { return clock_; }

 private:
  std::filesystem::path data_dir_;
  Options options_;
  RealClock clock_;
  HfCheckpointValidator validator_;
  std::unique_ptr<registry::sqlite::SqliteMetadataStore> store_;
  std::unique_ptr<registry::ArtifactStore> artifacts_;
  std::unique_ptr<registry::OperationService> operations_;
  std::unique_ptr<registry::ModelService> models_;
};

}  // namespace tessera::testing
