// Small functions of the plain resource structs (model.h, endpoint.h, operation.h).
#include <algorithm>
#include <array>
#include <utility>

#include "fmt/format.h"
#include "registry/endpoint.h"
#include "registry/model.h"
#include "registry/operation.h"
#include "registry/sha256.h"

namespace tessera::registry {

int64_t ArtifactManifest::TotalBytes() const {
  int64_t total = 0;
  for (const auto& f : files) total += f.size_bytes;
  return total;
}

std::string ArtifactManifest::Digest() const {
  std::vector<const ArtifactFile*> sorted;
  for (const auto& f : files) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(),
            [](const ArtifactFile* a, const ArtifactFile* b) { return a->path < b->path; });
  Sha256 hash;
  for (const ArtifactFile* f : sorted) {
    hash.Update(fmt::format("{}\t{}\t{}\n", f->path, f->sha256, f->size_bytes));
  }
  return hash.HexDigest();
}

namespace {
constexpr std::array<std::pair<DeployedModelState, std::string_view>, 3> kStateNames = {{
    {DeployedModelState::kDeploying, "DEPLOYING"},
    {DeployedModelState::kDeployed, "DEPLOYED"},
    {DeployedModelState::kUndeploying, "UNDEPLOYING"},
}};

struct KindInfo {
  OperationKind kind;
  std::string_view name;
  std::string_view metadata_type;
  std::string_view response_type;
};
constexpr std::array<KindInfo, 7> kKinds = {{
    {OperationKind::kUploadModel, "UPLOAD_MODEL",
     "google.cloud.aiplatform.v1.UploadModelOperationMetadata",
     "google.cloud.aiplatform.v1.UploadModelResponse"},
    {OperationKind::kDeleteModel, "DELETE_MODEL",
     "google.cloud.aiplatform.v1.DeleteOperationMetadata", "google.protobuf.Empty"},
    {OperationKind::kDeleteModelVersion, "DELETE_MODEL_VERSION",
     "google.cloud.aiplatform.v1.DeleteOperationMetadata", "google.protobuf.Empty"},
    {OperationKind::kCreateEndpoint, "CREATE_ENDPOINT",
     "google.cloud.aiplatform.v1.CreateEndpointOperationMetadata",
     "google.cloud.aiplatform.v1.Endpoint"},
    {OperationKind::kDeleteEndpoint, "DELETE_ENDPOINT",
     "google.cloud.aiplatform.v1.DeleteOperationMetadata", "google.protobuf.Empty"},
    {OperationKind::kDeployModel, "DEPLOY_MODEL",
     "google.cloud.aiplatform.v1.DeployModelOperationMetadata",
     "google.cloud.aiplatform.v1.DeployModelResponse"},
    {OperationKind::kUndeployModel, "UNDEPLOY_MODEL",
     "google.cloud.aiplatform.v1.UndeployModelOperationMetadata",
     "google.cloud.aiplatform.v1.UndeployModelResponse"},
}};

const KindInfo& Info(OperationKind kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return k;
  }
  return kKinds[0];  // unreachable: every enumerator is in the table
}
}  // namespace

std::string_view DeployedModelStateName(DeployedModelState state) {
  for (const auto& [s, name] : kStateNames) {
    if (s == state) return name;
  }
  return "UNKNOWN";
}

bool ParseDeployedModelState(std::string_view name, DeployedModelState& out) {
  for (const auto& [s, n] : kStateNames) {
    if (n == name) {
      out = s;
      return true;
    }
  }
  return false;
}

int32_t DeployedModel::MinReplicaCount() const {
  if (dedicated_resources) return dedicated_resources->min_replica_count;
  if (automatic_resources) return automatic_resources->min_replica_count;
  return 0;
}

int32_t DeployedModel::MaxReplicaCount() const {
  if (dedicated_resources) return dedicated_resources->max_replica_count;
  if (automatic_resources) return automatic_resources->max_replica_count;
  return 0;
}

const DeployedModel* Endpoint::FindDeployedModel(std::string_view id) const {
  for (const auto& dm : deployed_models) {
    if (dm.id == id) return &dm;
  }
  return nullptr;
}

std::string_view OperationKindName(OperationKind kind) { return Info(kind).name; }
std::string_view OperationMetadataType(OperationKind kind) { return Info(kind).metadata_type; }
std::string_view OperationResponseType(OperationKind kind) { return Info(kind).response_type; }

bool ParseOperationKind(std::string_view name, OperationKind& out) {
  for (const auto& k : kKinds) {
    if (k.name == name) {
      out = k.kind;
      return true;
    }
  }
  return false;
}

}  // namespace tessera::registry
