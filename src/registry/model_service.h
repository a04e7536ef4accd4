// ModelService: Vertex AI's ModelService semantics over the MetadataStore and ArtifactStore.
// The REST layer (serving/) calls these methods with decoded requests and encodes the results;
// nothing here knows HTTP or JSON.
//
// Every method is thread-safe and may be called from any request thread; they return quickly
// (uploads return an Operation at once and do their copying on the service's own workers).
// Names are full resource names; malformed ones are INVALID_ARGUMENT, unknown ones NOT_FOUND.
//
// Lifetime: the Options' pointers are not owned and must outlive the service. Destroying the
// service cancels running uploads and waits for them (they end UNAVAILABLE, retryable).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "registry/artifact_source.h"
#include "registry/artifact_store.h"
#include "registry/artifact_validator.h"
#include "registry/list_query.h"
#include "registry/metadata_store.h"
#include "registry/model.h"
#include "registry/operation.h"
#include "registry/operation_runner.h"
#include "registry/operation_service.h"

namespace tessera::registry {

// ModelService.UploadModel's request.
struct UploadModelRequest {
  std::string parent;  // projects/{p}/locations/{l}
  // Used: display_name (required for a new model), description, version_description,
  // artifact_uri (required), container_spec (image_uri required), version_aliases, labels.
  // Output-only fields are ignored.
  Model model;
  std::string parent_model;  // optional: projects/{p}/locations/{l}/models/{m} -> a new version
  std::string model_id;      // optional id of a new model ([a-z][a-z0-9_-]{0,62})
};

class ModelService {
 public:
  struct Options {
    MetadataStore* store = nullptr;
    ArtifactStore* artifacts = nullptr;
    OperationService* operations = nullptr;
    ArtifactValidator* validator = nullptr;
    Clock* clock = nullptr;
    ArtifactSourceOptions source;  // allowed roots, http(s) fetcher, size limits
    int upload_threads = 2;        // uploads running at once
  };

  // Sweeps the artifact store (temporary files, unreferenced blobs and folders): create once
  // per process, before any upload.
  static absl::StatusOr<std::unique_ptr<ModelService>> Create(const Options& options);
  ~ModelService();

  // Validates the request now (missing fields, bad aliases or labels, unknown image, artifactUri
  // form and allowed roots, unknown parentModel, taken modelId) and returns the running
  // Operation. Its work fetches, copies (sha256, dedup), validates and commits; on success the
  // operation's result names the model and the new version id; on failure (e.g. a bad artifact)
  // its error says why, and nothing of the upload remains.
  // New model: version 1 gets `default` plus model.version_aliases; model.labels become model
  // labels. New version (parent_model): model.labels become version labels, display_name and
  // description are ignored (they belong to the model), and aliases listed move here (including
  // `default`, which otherwise stays where it is).
  absl::StatusOr<Operation> UploadModel(const UploadModelRequest& request);

  // `name` may end in @{version id}, @{alias} or @- (default version); without it, the default
  // version.
  absl::StatusOr<Model> GetModel(std::string_view name);
  // Models of `parent` at their default version. Filter on display_name and labels.
  absl::StatusOr<ListPage<Model>> ListModels(std::string_view parent, const ListQuery& query);
  // Every version of the model `name` (no '@'), by version id. Filter on labels.
  absl::StatusOr<ListPage<Model>> ListModelVersions(std::string_view name, const ListQuery& query);

  // `name` must carry a version (@id or @alias). Each alias is added to that version (moving it
  // from another); "-alias" removes it. The same alias added and removed cancels out. `default`
  // can be moved here but not removed. Returns the version.
  absl::StatusOr<Model> MergeVersionAliases(std::string_view name,
                                            const std::vector<std::string>& version_aliases);

  // PATCH: `model.name` without '@' (or with @-) updates the model's displayName, description,
  // labels; with @{version} the version's versionDescription, labels. `update_mask` lists the
  // fields (camelCase or snake_case); one request updates one scope.
  absl::StatusOr<Model> UpdateModel(const Model& model,
                                    const std::vector<std::string>& update_mask);

  // Deletes the model and all its versions; refused (FAILED_PRECONDITION) while any version is
  // deployed. Returns a done Operation.
  absl::StatusOr<Operation> DeleteModel(std::string_view name);
  // `name` = model@{version id}. Refused (FAILED_PRECONDITION) while that version is deployed,
  // when it is the model's only version (delete the model instead), and when it holds `default`
  // (move the alias first). Returns a done Operation.
  absl::StatusOr<Operation> DeleteModelVersion(std::string_view name);

  // The local folder with the files of `name` (any version selector), assembled from the blob
  // store if needed. For the replica supervisor.
  absl::StatusOr<std::filesystem::path> ArtifactDir(std::string_view name);

  // Blocks until no upload is queued or running (tests).
  void WaitIdle();

 private:
  explicit ModelService(const Options& options) : options_(options) {}
  absl::StatusOr<OperationResult> RunUpload(OperationContext& ctx,
                                            const UploadModelRequest& request,
                                            const LocationName& parent,
                                            const ArtifactLocation& location);
  absl::StatusOr<Operation> CreateDoneOperation(MetadataTxn& txn, const LocationName& parent,
                                                OperationKind kind, const std::string& target);
  void CollectGarbage();

  const Options options_;
  std::unique_ptr<OperationRunner> runner_;
};

}  // namespace tessera::registry
