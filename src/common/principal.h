// Who sent a request, as the server established it from a credential (auth/key_service.h): the
// vocabulary every layer above common shares -- the front door sets it on each request
// (HttpRequest::principal), the predict path reads it to resolve model names within the
// caller's projects (serving/predict/model_resolver.h). Plain data, no policy: what a role may
// do is auth/access_policy.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

// The roles of an API key, from least to most power (docs/security.md has the table).
enum class Role {
  kViewer,     // reads models, endpoints, operations, replicas, quotas
  kPredictor,  // predict routes (and the protocols' model status/metadata) only
  kDeployer,   // models, endpoints, deployments, operations: read, write, and predict
  kAdmin,      // everything, API keys, rate limits and quotas included
};

std::string_view RoleName(Role role);  // "viewer", "predictor", "deployer", "admin"
std::optional<Role> RoleFromName(std::string_view name);

// A project list holding this covers every project.
inline constexpr std::string_view kAllProjects = "*";

struct Principal {
  // The key's public id ("tsk_3f9a1c0e7b2d4a6f"), never its secret; "anonymous" with --auth=none.
  std::string key_id;
  Role role = Role::kViewer;
  // Project ids the key may act in; {"*"}: every project.
  std::vector<std::string> projects;
  // Predictor keys only: endpoint resource names ("projects/p/locations/l/endpoints/e") it may
  // call. Empty: every endpoint of its projects.
  std::vector<std::string> endpoints;

  bool AllProjects() const;
  bool CoversProject(std::string_view project) const;
  // `endpoint` (a resource name) lies in a covered project and, when `endpoints` is not empty,
  // is listed there.
  bool CoversEndpoint(std::string_view endpoint) const;
};

}  // namespace tessera
