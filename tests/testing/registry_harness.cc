#include "testing/registry_harness.h"

#include "common/status_macros.h"

namespace tessera::testing {

RegistryHarness::RegistryHarness(std::filesystem::path data_dir, Options options)
    : data_dir_(std::move(data_dir)), options_(std::move(options)) {}

RegistryHarness::~RegistryHarness() { Close(); }

absl::Status RegistryHarness::Open() {
  Close();
  std::filesystem::create_directories(data_dir_);
  ASSIGN_OR_RETURN(store_,
                   registry::sqlite::SqliteMetadataStore::Open({.path = data_dir_ / "tessera.db"}));
  ASSIGN_OR_RETURN(artifacts_,
                   registry::ArtifactStore::Create({.data_dir = data_dir_,
                                                    .max_file_bytes = options_.max_artifact_bytes,
                                                    .max_total_bytes = options_.max_artifact_bytes,
                                                    .min_free_bytes = options_.min_free_bytes,
                                                    .disk_space = options_.disk_space}));
  ASSIGN_OR_RETURN(operations_,
                   registry::OperationService::Create({.store = store_.get(), .clock = &clock_}));
  registry::ModelService::Options o;
  o.store = store_.get();
  o.artifacts = artifacts_.get();
  o.operations = operations_.get();
  o.validator = &validator_;
  o.clock = &clock_;
  o.source.allowed_roots = options_.allowed_roots;
  o.source.fetcher = options_.fetcher;
  o.source.limits.max_file_bytes = options_.max_artifact_bytes;
  o.source.limits.max_total_bytes = options_.max_artifact_bytes;
  o.upload_threads = options_.upload_threads;
  ASSIGN_OR_RETURN(models_, registry::ModelService::Create(o));
  return absl::OkStatus();
}

void RegistryHarness::Close() {
  models_.reset();
  operations_.reset();
  artifacts_.reset();
  store_.reset();
}

registry::UploadModelRequest RegistryHarness::Request(const std::string& artifact_uri,
                                                      const std::string& display_name) {
  registry::UploadModelRequest r;
  r.parent = kTestParent;
  r.model.display_name = display_name;
  r.model.artifact_uri = artifact_uri;
  r.model.container_spec.image_uri = kTestImage;
  return r;
}

absl::StatusOr<registry::Operation> RegistryHarness::Wait(const registry::Operation& op) {
  ASSIGN_OR_RETURN(registry::Operation done,
                   operations_->WaitOperation(op.name, absl::Seconds(60)));
  if (!done.done) return absl::DeadlineExceededError("operation " + op.name + " still running");
  return done;
}

absl::StatusOr<registry::Model> RegistryHarness::UploadAndWait(
    const registry::UploadModelRequest& request) {
  ASSIGN_OR_RETURN(registry::Operation op, models_->UploadModel(request));
  ASSIGN_OR_RETURN(registry::Operation done, Wait(op));
  if (!done.error.ok()) return done.error;
  return models_->GetModel(done.result.model + "@" + done.result.model_version_id);
}

absl::StatusOr<registry::Model> RegistryHarness::UploadFolder(const std::filesystem::path& folder,
                                                              const std::string& parent_model) {
  registry::UploadModelRequest r = Request(folder.string());
  r.parent_model = parent_model;
  return UploadAndWait(r);
}

}  // namespace tessera::testing
