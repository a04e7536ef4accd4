// The Operation resource (google.longrunning.Operation as Vertex AI v1 returns it). Plain data.
//
// Responses are kept as resource *references* (OperationResult), not copies: the REST layer
// builds the Vertex response message from `kind` and the result, reading the referenced
// resource when the message embeds it (CreateEndpoint -> Endpoint, DeployModel ->
// {deployedModel}). This keeps registry free of control types and JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tessera::registry {

enum class OperationKind {
  kUploadModel,
  kDeleteModel,
  kDeleteModelVersion,
  kCreateEndpoint,
  kDeleteEndpoint,
  kDeployModel,
  kUndeployModel,
};

std::string_view OperationKindName(OperationKind kind);  // "UPLOAD_MODEL", ...
bool ParseOperationKind(std::string_view name, OperationKind& out);
// The Vertex message types for `metadata["@type"]` and `response["@type"]`, without the
// "type.googleapis.com/" prefix, e.g. "google.cloud.aiplatform.v1.UploadModelOperationMetadata"
// and "google.cloud.aiplatform.v1.UploadModelResponse" ("google.protobuf.Empty" for deletes).
std::string_view OperationMetadataType(OperationKind kind);
std::string_view OperationResponseType(OperationKind kind);

// What a successful operation produced. Fields unused by a kind stay empty:
//   kUploadModel:   model, model_version_id        -> UploadModelResponse{model, modelVersionId}
//   kCreateEndpoint: endpoint                      -> Endpoint (read at response time)
//   kDeployModel:   endpoint, deployed_model_id    -> DeployModelResponse{deployedModel}
//   kUndeployModel, kDelete*: nothing              -> UndeployModelResponse{} / Empty
struct OperationResult {
  std::string model;
  std::string model_version_id;
  std::string endpoint;
  std::string deployed_model_id;
  bool operator==(const OperationResult&) const = default;
};

struct Operation {
  std::string name;  // projects/p/locations/l/operations/{id}
  OperationKind kind = OperationKind::kUploadModel;
  // The resource the operation acts on: the parent or parent model for uploads, the endpoint for
  // deploys, the deleted resource for deletes.
  std::string target;
  // genericMetadata.createTime / updateTime (updateTime moves with progress and completion).
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
  int32_t progress_percent = 0;  // 0..100
  std::string stage;             // e.g. "COPYING_ARTIFACT"; Tessera metadata, free text
  bool done = false;
  absl::Status error;      // when done: OK on success, else the failure (CANCELLED if cancelled)
  OperationResult result;  // when done and error.ok()
};

}  // namespace tessera::registry
