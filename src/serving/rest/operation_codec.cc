#include "serving/rest/operation_codec.h"

#include "serving/rest/json_fields.h"

namespace tessera::serving::rest {
namespace {

using nlohmann::json;

// Tessera stages of a deploy operation that have a Vertex DeploymentStage name.
std::string_view VertexDeploymentStage(std::string_view stage) {
  if (stage == "PENDING") return "STARTING_DEPLOYMENT";
  if (stage == "STARTING_MODEL_SERVER") return "STARTING_MODEL_SERVER";
  if (stage == "FINISHING_UP") return "FINISHING_UP";
  return "";
}

}  // namespace

std::string TypeUrl(std::string_view message_type) {
  return "type.googleapis.com/" + std::string(message_type);
}

json MinimalOperationResponse(const registry::Operation& op) {
  json j = json::object();
  switch (op.kind) {
    case registry::OperationKind::kUploadModel:
      j["model"] = op.result.model;
      j["modelVersionId"] = op.result.model_version_id;
      break;
    case registry::OperationKind::kCreateEndpoint:
      j["name"] = op.result.endpoint;
      break;
    case registry::OperationKind::kDeployModel:
      j["deployedModel"] = {{"id", op.result.deployed_model_id}};
      break;
    case registry::OperationKind::kUndeployModel:
    case registry::OperationKind::kDeleteModel:
    case registry::OperationKind::kDeleteModelVersion:
    case registry::OperationKind::kDeleteEndpoint:
      break;
  }
  return j;
}

json OperationToJson(const registry::Operation& op, const json& response) {
  json j = json::object();
  j["name"] = op.name;
  json generic = json::object();
  SetTimestamp(generic, "createTime", op.create_time);
  SetTimestamp(generic, "updateTime", op.update_time);
  json metadata = json::object();
  metadata["@type"] = TypeUrl(registry::OperationMetadataType(op.kind));
  metadata["genericMetadata"] = std::move(generic);
  if (op.kind == registry::OperationKind::kDeployModel && !op.done) {
    const std::string_view stage = VertexDeploymentStage(op.stage);
    if (!stage.empty()) metadata["deploymentStage"] = std::string(stage);
  }
  j["metadata"] = std::move(metadata);
  j["done"] = op.done;
  if (!op.done) return j;
  if (!op.error.ok()) {
    // google.rpc.Status: the numeric canonical code, not the HTTP status.
    j["error"] = {{"code", static_cast<int>(op.error.code())},
                  {"message", std::string(op.error.message())}};
    return j;
  }
  json body = response.is_object() ? response : json::object();
  body["@type"] = TypeUrl(registry::OperationResponseType(op.kind));
  j["response"] = std::move(body);
  return j;
}

}  // namespace tessera::serving::rest
