#include "serving/predict/model_resolver.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"

namespace tessera::serving {
namespace {

bool IsVersionNumber(std::string_view text) {
  return !text.empty() && text.size() <= 18 && text.front() != '0' &&
         std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// Numeric order of version ids ("10" after "9"); both are validated numbers.
bool VersionLess(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

bool Reaches(const Principal* caller, const RoutedEndpoint& endpoint) {
  return caller == nullptr || caller->CoversEndpoint(endpoint.name);
}

// The registry models (resource names) `name` designates: by id first, else by display name.
std::set<std::string> MatchingModels(const RoutingTable& table, std::string_view name,
                                     const Principal* caller) {
  std::set<std::string> by_id;
  std::set<std::string> by_display_name;
  for (const RoutedEndpoint& endpoint : table.endpoints()) {
    if (!Reaches(caller, endpoint)) continue;
    for (const RoutedDeployedModel& dm : endpoint.deployed_models) {
      if (dm.ModelId() == name) by_id.insert(dm.model);
      if (dm.model_display_name == name) by_display_name.insert(dm.model);
    }
  }
  return by_id.empty() ? by_display_name : by_id;
}

}  // namespace

absl::StatusOr<ResolvedModel> ModelResolver::Resolve(const RoutingTable& table,
                                                     std::string_view name,
                                                     std::string_view version,
                                                     std::string_view label,
                                                     const Principal* caller) const {
  if (!version.empty() && !label.empty()) {
    return absl::InvalidArgumentError("give a model version or a version label, not both");
  }
  if (!version.empty() && !IsVersionNumber(version)) {
    return absl::InvalidArgumentError(fmt::format(
        "model version \"{}\" is not a version number (1, 2, ...); use /labels/ for aliases",
        version));
  }
  const std::set<std::string> models = MatchingModels(table, name, caller);
  if (models.empty()) {
    return absl::NotFoundError(fmt::format(
        "no deployed model named \"{}\" (a model id or display name; only models deployed on an "
        "endpoint are served here)",
        name));
  }
  if (models.size() > 1) {
    return absl::FailedPreconditionError(
        fmt::format("model name \"{}\" is ambiguous: it names {}; use the model id", name,
                    absl::StrJoin(models, ", ")));
  }

  ResolvedModel resolved;
  resolved.model = *models.begin();
  std::map<std::string, DeployedVersion, decltype(&VersionLess)> versions(&VersionLess);
  for (const RoutedEndpoint& endpoint : table.endpoints()) {
    if (!Reaches(caller, endpoint)) continue;
    for (const RoutedDeployedModel& dm : endpoint.deployed_models) {
      if (dm.model != resolved.model) continue;
      resolved.model_id = dm.ModelId();
      resolved.display_name = dm.model_display_name;
      auto [it, inserted] = versions.try_emplace(dm.model_version_id);
      if (inserted) {
        it->second.version_id = dm.model_version_id;
        it->second.input_key = dm.input_key;
      }
      it->second.ready_replicas += static_cast<int>(dm.ready_replicas.size());
    }
  }
  for (const auto& [id, v] : versions) resolved.versions.push_back(v);

  std::string wanted(version);
  if (!label.empty()) {
    if (models_ == nullptr) {
      return absl::FailedPreconditionError("version labels need the registry, which is not set");
    }
    absl::StatusOr<registry::Model> aliased =
        models_->GetModel(fmt::format("{}@{}", resolved.model, label));
    if (!aliased.ok()) {
      return absl::NotFoundError(
          fmt::format("model \"{}\" has no version labelled \"{}\"", name, label));
    }
    wanted = aliased->version_id;
  }
  if (wanted.empty()) {
    resolved.version = resolved.versions.back();  // the highest deployed version
    return resolved;
  }
  auto it = versions.find(wanted);
  if (it == versions.end()) {
    return absl::NotFoundError(fmt::format(
        "version {} of model \"{}\" is not deployed (deployed versions: {})", wanted, name,
        absl::StrJoin(resolved.versions, ", ", [](std::string* out, const DeployedVersion& v) {
          out->append(v.version_id);
        })));
  }
  resolved.version = it->second;
  return resolved;
}

}  // namespace tessera::serving
