// ModelService routes of ControlPlaneApi (control_plane_api.h).
#include "common/status_macros.h"
#include "fmt/format.h"
#include "serving/rest/control_plane_api.h"
#include "serving/rest/json_fields.h"
#include "serving/rest/model_codec.h"
#include "serving/rest/request_util.h"

namespace tessera::serving::rest {
namespace {

using nlohmann::json;

// Models and endpoints list in creation order.
const std::vector<std::string_view> kCreationOrder = {"create_time", "createTime",
                                                      "create_time asc", "createTime asc"};
// Versions list by version id, which grows with creation time.
const std::vector<std::string_view> kVersionOrder = {"create_time", "createTime", "version_id",
                                                     "versionId"};

json ModelListJson(const registry::ListPage<registry::Model>& page) {
  json models = json::array();
  for (const auto& m : page.items) models.push_back(ModelToJson(m));
  json j = {{"models", std::move(models)}};
  if (!page.next_page_token.empty()) j["nextPageToken"] = page.next_page_token;
  return j;
}

}  // namespace

http::HttpResponse ControlPlaneApi::UploadModel(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  absl::StatusOr<registry::UploadModelRequest> upload =
      UploadModelRequestFromJson(ParentFromPath(request), *body);
  if (!upload.ok()) return Error(upload.status());
  absl::StatusOr<registry::Operation> op = options_.models->UploadModel(*upload);
  if (!op.ok()) return Error(op.status());
  return OperationResponse(*op);
}

http::HttpResponse ControlPlaneApi::GetModel(const http::HttpRequest& request) {
  absl::StatusOr<registry::Model> model =
      options_.models->GetModel(ResourceFromPath(request, "models", "model"));
  if (!model.ok()) return Error(model.status());
  return Ok(ModelToJson(*model));
}

http::HttpResponse ControlPlaneApi::ListModels(const http::HttpRequest& request) {
  absl::StatusOr<registry::ListQuery> query = ListQueryFromRequest(request, kCreationOrder);
  if (!query.ok()) return Error(query.status());
  absl::StatusOr<registry::ListPage<registry::Model>> page =
      options_.models->ListModels(ParentFromPath(request), *query);
  if (!page.ok()) return Error(page.status());
  return Ok(ModelListJson(*page));
}

http::HttpResponse ControlPlaneApi::ListModelVersions(const http::HttpRequest& request) {
  absl::StatusOr<registry::ListQuery> query = ListQueryFromRequest(request, kVersionOrder);
  if (!query.ok()) return Error(query.status());
  absl::StatusOr<registry::ListPage<registry::Model>> page =
      options_.models->ListModelVersions(ResourceFromPath(request, "models", "model"), *query);
  if (!page.ok()) return Error(page.status());
  return Ok(ModelListJson(*page));
}

http::HttpResponse ControlPlaneApi::UpdateModel(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  registry::Model model;
  if (absl::Status s = ModelFromJson(*body, "model", model); !s.ok()) return Error(s);
  const std::string name = ResourceFromPath(request, "models", "model");
  // The path names the model (and version); a body name, if any, must agree.
  if (!model.name.empty() && model.name != name) {
    return Error(absl::InvalidArgumentError(fmt::format(
        "model.name \"{}\" does not match the name in the URL \"{}\"", model.name, name)));
  }
  model.name = name;
  const std::vector<std::string> mask = UpdateMaskFromRequest(request);
  if (mask.empty()) {
    return Error(
        absl::InvalidArgumentError("updateMask is required (e.g. ?updateMask=displayName,labels)"));
  }
  absl::StatusOr<registry::Model> updated = options_.models->UpdateModel(model, mask);
  if (!updated.ok()) return Error(updated.status());
  return Ok(ModelToJson(*updated));
}

http::HttpResponse ControlPlaneApi::DeleteModel(const http::HttpRequest& request) {
  const std::string name = ResourceFromPath(request, "models", "model");
  // A name with @version deletes that version, as :deleteVersion does (convenient with curl).
  absl::StatusOr<registry::Operation> op = name.find('@') == std::string::npos
                                               ? options_.models->DeleteModel(name)
                                               : options_.models->DeleteModelVersion(name);
  if (!op.ok()) return Error(op.status());
  return OperationResponse(*op);
}

http::HttpResponse ControlPlaneApi::DeleteModelVersion(const http::HttpRequest& request) {
  const std::string name = ResourceFromPath(request, "models", "model");
  if (name.find('@') == std::string::npos) {
    return Error(absl::InvalidArgumentError(
        fmt::format("{} names no version: use models/{{model}}@{{version}}:deleteVersion", name)));
  }
  absl::StatusOr<registry::Operation> op = options_.models->DeleteModelVersion(name);
  if (!op.ok()) return Error(op.status());
  return OperationResponse(*op);
}

http::HttpResponse ControlPlaneApi::MergeVersionAliases(const http::HttpRequest& request) {
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  absl::StatusOr<std::vector<std::string>> aliases = MergeVersionAliasesFromJson(*body);
  if (!aliases.ok()) return Error(aliases.status());
  absl::StatusOr<registry::Model> model =
      options_.models->MergeVersionAliases(ResourceFromPath(request, "models", "model"), *aliases);
  if (!model.ok()) return Error(model.status());
  return Ok(ModelToJson(*model));
}

}  // namespace tessera::serving::rest
