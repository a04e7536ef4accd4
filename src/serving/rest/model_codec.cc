#include "serving/rest/model_codec.h"

#include "common/status_macros.h"
#include "fmt/format.h"
#include "serving/rest/json_fields.h"

namespace tessera::serving::rest {
namespace {

using nlohmann::json;

// Vertex `Model` input fields Tessera does not implement: refused by name (rather than as
// "unknown") so the user learns the field is understood but not supported here.
constexpr std::string_view kUnsupportedModelFields[] = {
    "predictSchemata",  "metadataSchemaUri", "metadata",         "explanationSpec",
    "encryptionSpec",   "pipelineJob",       "modelSourceInfo",  "baseModelSource",
    "trainingPipeline", "originalModelInfo", "metadataArtifact", "checkpoints",
};

json ContainerSpecToJson(const registry::ContainerSpec& spec) {
  json j = json::object();
  j["imageUri"] = spec.image_uri;
  if (!spec.command.empty()) j["command"] = spec.command;
  if (!spec.args.empty()) j["args"] = spec.args;
  if (!spec.env.empty()) {
    json env = json::array();
    for (const auto& e : spec.env) env.push_back({{"name", e.name}, {"value", e.value}});
    j["env"] = std::move(env);
  }
  if (!spec.ports.empty()) {
    json ports = json::array();
    for (int32_t p : spec.ports) ports.push_back({{"containerPort", p}});
    j["ports"] = std::move(ports);
  }
  if (!spec.predict_route.empty()) j["predictRoute"] = spec.predict_route;
  if (!spec.health_route.empty()) j["healthRoute"] = spec.health_route;
  return j;
}

absl::Status ContainerSpecFromJson(const json& object, const std::string& path,
                                   registry::ContainerSpec& out) {
  JsonObjectReader r(object, path);
  RETURN_IF_ERROR(r.String("imageUri", out.image_uri));
  RETURN_IF_ERROR(r.StringList("command", out.command));
  RETURN_IF_ERROR(r.StringList("args", out.args));
  ASSIGN_OR_RETURN(std::vector<const json*> env, r.ObjectList("env"));
  out.env.clear();
  for (const json* e : env) {
    JsonObjectReader er(*e, r.FieldPath("env"));
    registry::EnvVar var;
    RETURN_IF_ERROR(er.String("name", var.name));
    RETURN_IF_ERROR(er.String("value", var.value));
    RETURN_IF_ERROR(er.Finish());
    out.env.push_back(std::move(var));
  }
  ASSIGN_OR_RETURN(std::vector<const json*> ports, r.ObjectList("ports"));
  out.ports.clear();
  for (const json* p : ports) {
    JsonObjectReader pr(*p, r.FieldPath("ports"));
    int32_t port = 0;
    RETURN_IF_ERROR(pr.Int32("containerPort", port));
    RETURN_IF_ERROR(pr.Finish());
    out.ports.push_back(port);
  }
  RETURN_IF_ERROR(r.String("predictRoute", out.predict_route));
  RETURN_IF_ERROR(r.String("healthRoute", out.health_route));
  return r.Finish();
}

}  // namespace

json ModelToJson(const registry::Model& model, const CodecOptions& options) {
  json j = json::object();
  j["name"] = model.name;
  j["versionId"] = model.version_id;
  j["versionAliases"] = model.version_aliases;
  SetTimestamp(j, "versionCreateTime", model.version_create_time);
  SetTimestamp(j, "versionUpdateTime", model.version_update_time);
  j["displayName"] = model.display_name;
  if (!model.description.empty()) j["description"] = model.description;
  if (!model.version_description.empty()) j["versionDescription"] = model.version_description;
  j["artifactUri"] = model.artifact_uri;
  j["containerSpec"] = ContainerSpecToJson(model.container_spec);
  // Vertex lists what a model can be deployed with; Tessera deploys on dedicated or automatic
  // CPU resources.
  j["supportedDeploymentResourcesTypes"] = {"DEDICATED_RESOURCES", "AUTOMATIC_RESOURCES"};
  if (!model.labels.empty()) j["labels"] = model.labels;
  SetTimestamp(j, "createTime", model.create_time);
  SetTimestamp(j, "updateTime", model.update_time);
  if (!model.etag.empty()) j["etag"] = model.etag;
  if (!model.deployed_models.empty()) {
    json refs = json::array();
    for (const auto& ref : model.deployed_models) {
      refs.push_back({{"endpoint", ref.endpoint}, {"deployedModelId", ref.deployed_model_id}});
    }
    j["deployedModels"] = std::move(refs);
  }
  if (!options.strict) {
    json files = json::array();
    for (const auto& f : model.artifact.files) {
      files.push_back({{"path", f.path}, {"sha256", f.sha256}, {"sizeBytes", f.size_bytes}});
    }
    j["tessera"] = {{"runtime", model.runtime},
                    {"artifactDigest", model.artifact_digest},
                    {"artifactSizeBytes", model.artifact.TotalBytes()},
                    {"artifactFiles", std::move(files)}};
  }
  return j;
}

absl::Status ModelFromJson(const json& object, const std::string& path, registry::Model& out) {
  JsonObjectReader r(object, path);
  for (std::string_view unsupported : kUnsupportedModelFields) {
    if (r.Has(unsupported)) {
      return absl::InvalidArgumentError(
          fmt::format("{} is not supported by Tessera", r.FieldPath(unsupported)));
    }
  }
  RETURN_IF_ERROR(r.String("name", out.name));
  RETURN_IF_ERROR(r.String("displayName", out.display_name));
  RETURN_IF_ERROR(r.String("description", out.description));
  RETURN_IF_ERROR(r.String("versionDescription", out.version_description));
  RETURN_IF_ERROR(r.StringList("versionAliases", out.version_aliases));
  RETURN_IF_ERROR(r.String("artifactUri", out.artifact_uri));
  ASSIGN_OR_RETURN(const json* container, r.Object("containerSpec"));
  if (container != nullptr) {
    RETURN_IF_ERROR(
        ContainerSpecFromJson(*container, r.FieldPath("containerSpec"), out.container_spec));
  }
  RETURN_IF_ERROR(r.StringMap("labels", out.labels));
  RETURN_IF_ERROR(r.String("etag", out.etag));
  // Output only: accepted so a client can send back what it read.
  for (std::string_view ignored :
       {"versionId", "versionCreateTime", "versionUpdateTime", "createTime", "updateTime",
        "deployedModels", "supportedDeploymentResourcesTypes", "supportedExportFormats",
        "supportedInputStorageFormats", "supportedOutputStorageFormats", "satisfiesPzs",
        "satisfiesPzi", "dataStats", "defaultCheckpointId", "tessera"}) {
    r.Ignore(ignored);
  }
  return r.Finish();
}

absl::StatusOr<registry::UploadModelRequest> UploadModelRequestFromJson(std::string_view parent,
                                                                        const json& body) {
  registry::UploadModelRequest request;
  request.parent = std::string(parent);
  JsonObjectReader r(body, "");
  RETURN_IF_ERROR(r.String("parentModel", request.parent_model));
  RETURN_IF_ERROR(r.String("modelId", request.model_id));
  std::string service_account;
  RETURN_IF_ERROR(r.String("serviceAccount", service_account));
  ASSIGN_OR_RETURN(const json* model, r.Object("model"));
  if (model == nullptr) return absl::InvalidArgumentError("model is required");
  RETURN_IF_ERROR(ModelFromJson(*model, "model", request.model));
  RETURN_IF_ERROR(r.Finish());
  return request;
}

absl::StatusOr<std::vector<std::string>> MergeVersionAliasesFromJson(const json& body) {
  JsonObjectReader r(body, "");
  std::vector<std::string> aliases;
  r.Ignore("name");  // also in the path; gRPC transcoding may repeat it in the body
  RETURN_IF_ERROR(r.StringList("versionAliases", aliases));
  RETURN_IF_ERROR(r.Finish());
  if (aliases.empty()) return absl::InvalidArgumentError("versionAliases must not be empty");
  return aliases;
}

}  // namespace tessera::serving::rest
