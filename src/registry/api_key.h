// The persistent record of one API key. Plain data: the rules (roles, scopes, hashing, expiry)
// are auth/key_service.h's; the store keeps what it is given. The secret itself is never stored,
// only its salted and peppered hash.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "registry/rate_limit.h"

namespace tessera::registry {

struct ApiKeyRecord {
  std::string key_id;                  // public id, "tsk_" + 16 hex digits; the primary key
  std::string display_name;            // free text for people ("ci deployer")
  std::string role;                    // "viewer", "predictor", "deployer", "admin"
  std::vector<std::string> projects;   // project ids, or {"*"}
  std::vector<std::string> endpoints;  // predictor keys: allowed endpoint names; empty: all
  std::string salt;                    // hex, per key
  std::string secret_hash;             // hex HMAC-SHA256(pepper, salt || secret)
  std::string created_by;              // key id of the creating key; "" for the first admin key
  absl::Time create_time = absl::InfinitePast();
  absl::Time expire_time = absl::InfiniteFuture();  // InfiniteFuture: never expires
  absl::Time revoke_time = absl::InfiniteFuture();  // InfiniteFuture: not revoked
  std::optional<RateLimit> rate_limit;              // none: no per-key limit
};

// Per-project ceilings checked when endpoints are created and models deployed
// (control/quota.h). A negative value is "no limit".
struct ProjectQuota {
  std::string project;
  int64_t max_endpoints = -1;
  int64_t max_deployed_models = -1;
  int64_t max_replicas = -1;   // summed over deployed models at their max replica count
  int64_t max_cpu_cores = -1;  // max replicas x the machine type's vCPUs, summed
  bool operator==(const ProjectQuota&) const = default;
};

}  // namespace tessera::registry
