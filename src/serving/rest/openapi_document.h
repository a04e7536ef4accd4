// The OpenAPI 3 description of the control-plane REST API: docs/openapi.json, embedded into the
// binary at build time (src/serving/CMakeLists.txt), served at GET /openapi.json.
#pragma once

#include <string_view>

namespace tessera::serving::rest {

// The document's text (valid JSON). Static storage; thread-safe.
std::string_view OpenApiDocument();

}  // namespace tessera::serving::rest
