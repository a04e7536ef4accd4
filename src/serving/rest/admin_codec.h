// JSON of the admin API's small messages (admin_api.h): rate limits and project quotas.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "control/endpoint_service.h"
#include "nlohmann/json.hpp"
#include "registry/rate_limit.h"

namespace tessera::serving::rest {

// {"requestsPerSecond": 20, "burst": 40}
nlohmann::json RateLimitJson(const registry::RateLimit& limit);
// Both fields; burst defaults to the rate rounded up (at least 1). Bounds checked
// (auth::ValidateRateLimit). `path` names the object in errors.
absl::StatusOr<registry::RateLimit> RateLimitFromJson(const nlohmann::json& object,
                                                      std::string_view path);

// {"project": "p", "quota": {"endpoints": 5, ...}, "usage": {"endpoints": 2, ...}}; a quota
// without a limit is left out of "quota".
nlohmann::json QuotaReportJson(const control::EndpointService::QuotaReport& report);
// PATCH body {"endpoints": 5, "deployedModels": 10, "replicas": 20, "cpuCores": 64}: present
// fields replace `quota`'s (-1 removes a limit), absent ones stay; any other field is refused.
absl::Status MergeQuotaJson(const nlohmann::json& object, registry::ProjectQuota& quota);

}  // namespace tessera::serving::rest
