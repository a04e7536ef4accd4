#include "serving/rest/admin_codec.h"

#include <algorithm>
#include <cmath>

#include "auth/key_service.h"
#include "common/status_macros.h"
#include "serving/rest/json_fields.h"

namespace tessera::serving::rest {

using nlohmann::json;

json RateLimitJson(const registry::RateLimit& limit) {
  return json{{"requestsPerSecond", limit.requests_per_second}, {"burst", limit.burst}};
}

absl::StatusOr<registry::RateLimit> RateLimitFromJson(const json& object, std::string_view path) {
  JsonObjectReader reader(object, std::string(path));
  registry::RateLimit limit;
  if (!reader.Has("requestsPerSecond")) {
    return absl::InvalidArgumentError(reader.FieldPath("requestsPerSecond") +
                                      " is required (e.g. {\"requestsPerSecond\": 20})");
  }
  RETURN_IF_ERROR(reader.Double("requestsPerSecond", limit.requests_per_second));
  const bool has_burst = reader.Has("burst");
  RETURN_IF_ERROR(reader.Int64("burst", limit.burst));
  RETURN_IF_ERROR(reader.Finish());
  if (!has_burst) {
    limit.burst = std::max<int64_t>(
        1, static_cast<int64_t>(std::ceil(std::clamp(limit.requests_per_second, 0.0, 1e6))));
  }
  RETURN_IF_ERROR(auth::ValidateRateLimit(limit, path));
  return limit;
}

json QuotaReportJson(const control::EndpointService::QuotaReport& report) {
  json quota = json::object();
  const registry::ProjectQuota& q = report.quota;
  for (auto [name, value] :
       {std::pair{"endpoints", q.max_endpoints}, std::pair{"deployedModels", q.max_deployed_models},
        std::pair{"replicas", q.max_replicas}, std::pair{"cpuCores", q.max_cpu_cores}}) {
    if (value >= 0) quota[name] = value;
  }
  const control::ProjectUsage& u = report.usage;
  return json{{"project", q.project},
              {"quota", std::move(quota)},
              {"usage",
               {{"endpoints", u.endpoints},
                {"deployedModels", u.deployed_models},
                {"replicas", u.replicas},
                {"cpuCores", u.cpu_cores}}}};
}

absl::Status MergeQuotaJson(const json& object, registry::ProjectQuota& quota) {
  JsonObjectReader reader(object, "");
  reader.Ignore("project");
  RETURN_IF_ERROR(reader.Int64("endpoints", quota.max_endpoints));
  RETURN_IF_ERROR(reader.Int64("deployedModels", quota.max_deployed_models));
  RETURN_IF_ERROR(reader.Int64("replicas", quota.max_replicas));
  RETURN_IF_ERROR(reader.Int64("cpuCores", quota.max_cpu_cores));
  return reader.Finish();
}

}  // namespace tessera::serving::rest
