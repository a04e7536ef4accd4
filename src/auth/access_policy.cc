#include "auth/access_policy.h"

#include "fmt/format.h"

namespace tessera::auth {
namespace {

// The roles allowed each action, for the error message.
std::string_view AllowedRoles(Action action) {
  switch (action) {
    case Action::kPublic:
    case Action::kAuthenticated:
      return "any role";
    case Action::kRead:
      return "viewer, deployer or admin";
    case Action::kPredict:
      return "predictor, deployer or admin";
    case Action::kWrite:
      return "deployer or admin";
    case Action::kAdmin:
      return "admin";
  }
  return "admin";
}

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kPublic:
      return "public";
    case Action::kAuthenticated:
      return "authenticated";
    case Action::kRead:
      return "read";
    case Action::kPredict:
      return "predict";
    case Action::kWrite:
      return "write";
    case Action::kAdmin:
      return "admin";
  }
  return "admin";
}

bool RoleAllows(Role role, Action action) {
  switch (action) {
    case Action::kPublic:
    case Action::kAuthenticated:
      return true;
    case Action::kRead:
      return role != Role::kPredictor;
    case Action::kPredict:
      return role != Role::kViewer;
    case Action::kWrite:
      return role == Role::kDeployer || role == Role::kAdmin;
    case Action::kAdmin:
      return role == Role::kAdmin;
  }
  return false;
}

absl::Status Authorize(const Principal& principal, Action action, const Target& target) {
  if (action == Action::kPublic) return absl::OkStatus();
  if (!RoleAllows(principal.role, action)) {
    return absl::PermissionDeniedError(
        fmt::format("API key {} has role {}, which may not {}: the call needs {}", principal.key_id,
                    RoleName(principal.role),
                    action == Action::kAdmin ? "administer keys, limits or quotas"
                                             : std::string(ActionName(action)),
                    AllowedRoles(action)));
  }
  if (target.every_project && !principal.AllProjects()) {
    return absl::PermissionDeniedError(fmt::format(
        "API key {} is limited to some projects; this call needs a key for every project "
        "(\"{}\")",
        principal.key_id, kAllProjects));
  }
  if (!target.project.empty() && !principal.CoversProject(target.project)) {
    return absl::PermissionDeniedError(
        fmt::format("API key {} may not act in project \"{}\"", principal.key_id, target.project));
  }
  if (action == Action::kPredict && !target.endpoint.empty() && !principal.endpoints.empty() &&
      !principal.CoversEndpoint(target.endpoint)) {
    return absl::PermissionDeniedError(
        fmt::format("API key {} may not call endpoint {}", principal.key_id, target.endpoint));
  }
  return absl::OkStatus();
}

}  // namespace tessera::auth
