#include "cli/access_wiring.h"

#include "auth/secret_file.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::cli {

absl::StatusOr<std::unique_ptr<Access>> CreateAccess(const AccessOptions& options,
                                                     registry::MetadataStore* store, Clock* clock) {
  if (options.metrics == nullptr) return absl::InvalidArgumentError("access: no metrics registry");
  ASSIGN_OR_RETURN(metrics::CounterFamily * refusals,
                   options.metrics->AddCounter(
                       "tessera_rate_limited_requests_total",
                       "Requests refused (429) by a rate limit: limit is key, keysMadeUnderKey "
                       "or endpoint.",
                       {"limit"}));
  auto access = std::make_unique<Access>();
  access->endpoint_limits = std::make_unique<auth::RateLimiter>(clock, refusals);
  if (options.auth_enabled) {
    bool new_pepper = false;
    ASSIGN_OR_RETURN(std::string pepper,
                     auth::LoadOrCreatePepper(options.data_dir / kPepperFile, &new_pepper));
    ASSIGN_OR_RETURN(access->keys,
                     auth::KeyService::Create({.store = store, .clock = clock, .pepper = pepper}));
    if (new_pepper && access->keys->size() > 0 && !options.reset_admin_key) {
      // Every stored hash was made with the lost pepper: no key can authenticate any more.
      return absl::FailedPreconditionError(fmt::format(
          "{} is missing but the database holds {} API keys, which it alone can check: restore "
          "the file, or start with --reset-admin-key (a new admin key; every older key stops "
          "working)",
          (options.data_dir / kPepperFile).string(), access->keys->size()));
    }
    const std::filesystem::path key_file = options.data_dir / kAdminKeyFile;
    const auto persist = [&](const std::string& key) {
      return auth::WriteSecretFile(key_file, key + "\n");
    };
    ASSIGN_OR_RETURN(bool created, access->keys->CreateFirstAdminKey(persist));
    if (created) {
      spdlog::info(
          "first start: wrote an admin key for every project to {} (mode 0600); the "
          "tessera CLI reads it from there, other clients send it as "
          "\"Authorization: Bearer <key>\"",
          key_file.string());
    }
    if (options.reset_admin_key) {
      RETURN_IF_ERROR(access->keys->ResetAdminKey(persist));
      spdlog::warn("--reset-admin-key: wrote a new admin key for every project to {}",
                   key_file.string());
    }
    access->key_limits = std::make_unique<auth::RateLimiter>(clock, refusals);
  } else {
    spdlog::warn(
        "AUTHENTICATION IS OFF (--auth=none): every caller that can reach this server is an "
        "admin of every project. Use it on a laptop only; every HTTP response carries a Warning "
        "header saying so.");
  }
  const std::filesystem::path audit_path =
      options.audit_log.empty() ? options.data_dir / "audit" / "audit.jsonl" : options.audit_log;
  ASSIGN_OR_RETURN(access->audit,
                   auth::AuditLog::Create({.path = audit_path,
                                           .max_file_bytes = options.audit_log_max_bytes,
                                           .max_rotated_files = options.audit_log_files}));
  // Requests without a valid key get a file of their own: anyone can send those, and a flood of
  // them must not rotate the history of mutations away.
  ASSIGN_OR_RETURN(
      access->unauthenticated_audit,
      auth::AuditLog::Create({.path = audit_path.parent_path() / "unauthenticated.jsonl",
                              .max_file_bytes = options.audit_log_max_bytes,
                              .max_rotated_files = options.audit_log_files}));
  access->door = std::make_unique<serving::FrontDoor>(
      serving::FrontDoor::Options{.keys = access->keys.get(),
                                  .key_limits = access->key_limits.get(),
                                  .audit = access->audit.get(),
                                  .unauthenticated_audit = access->unauthenticated_audit.get(),
                                  .clock = clock});
  return access;
}

}  // namespace tessera::cli
