// GET /v1/logging -> {"level": "info"}; PUT /v1/logging {"level": "debug"} changes the server's
// log level at once (common/logging.h). An admin key for every project: the level decides what
// every tenant's requests leave in the log. The replicas keep the level they started with.
#pragma once

#include "absl/status/status.h"
#include "serving/front_door/secured_router.h"

namespace tessera::serving {

absl::Status AddLoggingRoutes(SecuredRouter& router);

}  // namespace tessera::serving
