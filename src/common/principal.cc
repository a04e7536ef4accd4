#include "common/principal.h"

#include <algorithm>

namespace tessera {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kPredictor:
      return "predictor";
    case Role::kDeployer:
      return "deployer";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> RoleFromName(std::string_view name) {
  for (Role role : {Role::kViewer, Role::kPredictor, Role::kDeployer, Role::kAdmin}) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

bool Principal::AllProjects() const {
  return std::find(projects.begin(), projects.end(), kAllProjects) != projects.end();
}

bool Principal::CoversProject(std::string_view project) const {
  if (project.empty()) return false;
  return AllProjects() || std::find(projects.begin(), projects.end(), project) != projects.end();
}

bool Principal::CoversEndpoint(std::string_view endpoint) const {
  // projects/{project}/locations/...
  constexpr std::string_view kPrefix = "projects/";
  if (endpoint.substr(0, kPrefix.size()) != kPrefix) return false;
  const std::string_view rest = endpoint.substr(kPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || !CoversProject(rest.substr(0, slash))) return false;
  return endpoints.empty() ||
         std::find(endpoints.begin(), endpoints.end(), endpoint) != endpoints.end();
}

}  // namespace tessera
