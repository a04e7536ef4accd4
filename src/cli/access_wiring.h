// What `tessera serve` builds for authentication and authorization (docs/security.md): the
// pepper and the KeyService over the metadata store, the first admin key (DATA_DIR/admin.key),
// the rate limiters, the audit log and the FrontDoor every frontend passes. With --auth=none
// only the FrontDoor (anonymous admin callers, a Warning on every response) and the endpoint
// limiter exist.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "auth/audit_log.h"
#include "auth/key_service.h"
#include "auth/rate_limiter.h"
#include "common/clock.h"
#include "common/metrics/metrics.h"
#include "registry/metadata_store.h"
#include "serving/front_door/front_door.h"

namespace tessera::cli {

inline constexpr char kAdminKeyFile[] = "admin.key";
inline constexpr char kPepperFile[] = "auth.pepper";

struct AccessOptions {
  bool auth_enabled = true;         // --auth=api-key (default) or none
  std::filesystem::path data_dir;   // admin.key and auth.pepper live here
  std::filesystem::path audit_log;  // empty: DATA_DIR/audit/audit.jsonl
  int64_t audit_log_max_bytes = int64_t{64} << 20;
  int audit_log_files = 5;
  bool reset_admin_key = false;  // mint a new admin key into admin.key at start
  // Required: the rate limiters count their refusals here
  // (tessera_rate_limited_requests_total{limit}).
  metrics::MetricsRegistry* metrics = nullptr;
};

struct Access {
  std::unique_ptr<auth::KeyService> keys;  // null with --auth=none
  std::unique_ptr<auth::RateLimiter> key_limits;
  std::unique_ptr<auth::RateLimiter> endpoint_limits;
  std::unique_ptr<auth::AuditLog> audit;                  // mutations, 403s
  std::unique_ptr<auth::AuditLog> unauthenticated_audit;  // 401s
  std::unique_ptr<serving::FrontDoor> door;
};

// `store` and `clock` must outlive the result.
absl::StatusOr<std::unique_ptr<Access>> CreateAccess(const AccessOptions& options,
                                                     registry::MetadataStore* store, Clock* clock);

}  // namespace tessera::cli
