// The path of a Vertex endpoint's routes, and the endpoint resource name it names. Shared by the
// routes under it (:predict, :rawPredict, the replicas view), so they agree on both.
#pragma once

#include <string>

#include "common/http/http_types.h"
#include "fmt/format.h"

namespace tessera::serving {

inline constexpr char kEndpointRoutePattern[] =
    "/v1/projects/{project}/locations/{location}/endpoints/{endpoint}";

// "projects/p/locations/l/endpoints/e" from the route's path parameters.
inline std::string EndpointNameOf(const http::HttpRequest& request) {
  return fmt::format("projects/{}/locations/{}/endpoints/{}", request.PathParam("project"),
                     request.PathParam("location"), request.PathParam("endpoint"));
}

}  // namespace tessera::serving
