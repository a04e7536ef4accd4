// One REST method of an API class (ControlPlaneApi, AdminApi): what docs/openapi.json must
// describe for it (tests/serving/openapi_sync_test.cc) and who may call it.
#pragma once

#include <string_view>

#include "serving/front_door/route_access.h"

namespace tessera::serving::rest {

struct ApiRoute {
  std::string_view method;        // "GET", "POST", "PATCH", "DELETE"
  std::string_view pattern;       // router pattern, e.g. "/v1/keys/{key}:revoke"
  std::string_view operation_id;  // the OpenAPI operationId, e.g. "keys.revoke"
  RouteAccess access;             // front_door/route_access.h
};

}  // namespace tessera::serving::rest
