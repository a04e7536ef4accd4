// The access rule of one route: every route serve registers declares one (through
// SecuredRouter, secured_router.h), and serve refuses to start with a route that has none.
// docs/security.md renders the table; the auth matrix test (tests/e2e/auth_matrix_e2e_test.cc)
// checks every route against it on the real binary.
#pragma once

#include <string_view>

#include "auth/access_policy.h"
#include "serving/front_door/error_shape.h"

namespace tessera::serving {

// Where a route finds the project (and endpoint) a call touches.
enum class Scope {
  kGlobal,        // none: the role decides alone (/openapi.json, the API keys API, /v2)
  kProject,       // the {project} path parameter
  kEndpoint,      // {project} and {endpoint}: a predictor key's endpoint list applies
  kModelName,     // a TF Serving / KServe model name: the handler resolves it within the key's
                  // projects and endpoints (serving/predict/model_resolver.h)
  kEveryProject,  // only a key for every project may make the call: quotas (with {project}),
                  // /metrics (without: its series span every project)
};

std::string_view ScopeName(Scope scope);  // "global", "project", "endpoint", ...

struct RouteAccess {
  auth::Action action = auth::Action::kAdmin;
  Scope scope = Scope::kGlobal;
  ErrorShape errors = ErrorShape::kGoogle;  // how a refusal is answered
};

}  // namespace tessera::serving
