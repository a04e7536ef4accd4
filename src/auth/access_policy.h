// What each role may do, as a pure function: the one table the front door
// (serving/front_door/front_door.h), the gRPC frontend and the auth matrix test all read.
//
// A call is described by its Action (what kind of call the route is) and its Target (the project
// and endpoint it touches, when the route names them). Authorize answers OK or
// PERMISSION_DENIED with a message that names the key, its role and what the call needed; the
// answer never depends on whether the target resource exists (the caller decides before any
// lookup), so a 403 tells nothing about other tenants' resources.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/principal.h"

namespace tessera::auth {

enum class Action {
  kPublic,         // no credential at all: liveness and readiness probes only
  kAuthenticated,  // any valid key: the API description, the protocols' server and model metadata
  kRead,           // viewer, deployer, admin: get and list
  kPredict,        // predictor, deployer, admin: predict routes
  kWrite,          // deployer, admin: create, change, delete models, endpoints, deployments
  kAdmin,          // admin: API keys, rate limits, quotas
};

std::string_view ActionName(Action action);  // "public", "authenticated", "read", ...

// Whether `role` may perform `action` at all (scope aside).
bool RoleAllows(Role role, Action action);

// The resource a call touches, as far as the route names it.
struct Target {
  std::string project;   // "" when the route names none (global routes, model-name routes)
  std::string endpoint;  // an endpoint resource name, "" when the route names none
  // The call changes something for every project (project quotas): only a key for all
  // projects may make it.
  bool every_project = false;
};

// OK when `principal` may perform `action` on `target`; PERMISSION_DENIED otherwise. Checks, in
// order: the role, `every_project`, the project, and -- for predictor keys with an endpoint
// list, on predict calls -- the endpoint.
absl::Status Authorize(const Principal& principal, Action action, const Target& target);

}  // namespace tessera::auth
