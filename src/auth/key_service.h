// KeyService: API keys -- created, listed, changed, revoked, and checked on every request.
//
// Keys live in the MetadataStore (registry/api_key.h: only a salted, peppered hash of each
// secret, auth/api_key_secret.h). Every key is also held in memory, so Authenticate() costs one
// map lookup and one HMAC and never touches the database; each change made here updates the
// store first and the memory second, so a revoked key fails on its very next request. Expiry is
// read from the clock on each request.
//
// Who may manage which key: only admin keys reach these methods (the routes say so), and only
// while they are still active when the change is made. An admin key for every project ("*")
// manages every key. An admin key for some projects manages only the keys whose projects all lie
// within its own: it may not create keys beyond them, may not change itself, and gives no key a
// later expiry or a higher rate limit than its own; at most 16 project-scoped keys stand in a row
// in a line of keys made by keys (each limited one is a bucket every request below it counts
// against). For such an admin, a key outside its reach
// and a key that does not exist get the same PERMISSION_DENIED. The last active admin key for
// every project without an expiry can be neither revoked nor given one (nobody could manage keys
// any more once it ended).
//
// Threading: Authenticate takes a reader lock on the in-memory map only. Changes are serialized
// by a writer mutex, committed to the store without holding the map's lock, then swapped into
// the map under a short exclusive lock: a slow transaction never stalls authentication.
// Thread-safe. `store` and `clock` must outlive the service.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/rate_limiter.h"
#include "common/clock.h"
#include "common/principal.h"
#include "registry/api_key.h"
#include "registry/metadata_store.h"

namespace tessera::auth {

// What a caller asks for when creating a key.
struct KeySpec {
  std::string display_name;
  Role role = Role::kViewer;
  std::vector<std::string> projects;   // project ids, or {"*"}; at least one
  std::vector<std::string> endpoints;  // predictor keys only: endpoint resource names
  absl::Time expire_time = absl::InfiniteFuture();
  std::optional<registry::RateLimit> rate_limit;
};

// A PATCH of a key: fields left nullopt stay as they are.
struct KeyUpdate {
  std::optional<std::string> display_name;
  std::optional<absl::Time> expire_time;                         // InfiniteFuture: never
  std::optional<std::optional<registry::RateLimit>> rate_limit;  // inner nullopt: remove
};

struct CreatedKey {
  registry::ApiKeyRecord record;
  std::string key;  // the secret string: returned once, never stored
};

// A successful Authenticate.
struct Authenticated {
  std::shared_ptr<const Principal> principal;
  // The limits the request counts against: the key's own (LimitKind::kKey), then the shared
  // limits (kKeysMadeUnder) of the project-scoped keys that made it, up the line to the first key
  // for every project. Empty: unlimited.
  std::vector<LimitedTarget> rate_limits;
};

// Checks a rate limit's bounds (requests_per_second in [0.001, 1e6], burst in [1, 1e6]).
absl::Status ValidateRateLimit(const registry::RateLimit& limit, std::string_view field);

class KeyService {
 public:
  struct Options {
    registry::MetadataStore* store = nullptr;
    Clock* clock = nullptr;
    std::string pepper;        // the server's hashing secret, >= 32 characters (secret_file.h)
    size_t max_keys = 100000;  // every key ever made, revoked ones included
  };

  // Loads every key into memory.
  static absl::StatusOr<std::unique_ptr<KeyService>> Create(const Options& options);

  // When the store holds no key at all: makes an admin key for every project, hands its secret
  // to `persist` (which writes it where the operator finds it) and only then records it, so a
  // crash in between leaves no key and the next start tries again. Returns whether it made one.
  absl::StatusOr<bool> CreateFirstAdminKey(
      const std::function<absl::Status(const std::string& key)>& persist);
  // Always makes a new admin key for every project (serve --reset-admin-key), persisted the same
  // way; for an operator who lost admin.key.
  absl::Status ResetAdminKey(const std::function<absl::Status(const std::string& key)>& persist);

  absl::StatusOr<CreatedKey> CreateKey(const KeySpec& spec, const Principal& caller);
  // Keys within the caller's reach, by creation time.
  std::vector<registry::ApiKeyRecord> ListKeys(const Principal& caller) const;
  absl::StatusOr<registry::ApiKeyRecord> GetKey(std::string_view key_id,
                                                const Principal& caller) const;
  absl::StatusOr<registry::ApiKeyRecord> UpdateKey(std::string_view key_id, const KeyUpdate& update,
                                                   const Principal& caller);
  // Idempotent: revoking a revoked key returns it unchanged.
  absl::StatusOr<registry::ApiKeyRecord> RevokeKey(std::string_view key_id,
                                                   const Principal& caller);

  // The principal of `key` (the whole secret string). UNAUTHENTICATED when it is malformed,
  // unknown or wrong, revoked, or expired; the message says which only once the secret matched
  // (a guess learns nothing about which key ids exist).
  absl::StatusOr<Authenticated> Authenticate(std::string_view key) const;

  // How many keys exist (revoked and expired ones included).
  size_t size() const { return Count(); }

  // Whether the key is active now (neither revoked nor expired).
  bool IsActive(const registry::ApiKeyRecord& key) const;
  enum class KeyState { kActive, kRevoked, kExpired };
  KeyState StateOf(const registry::ApiKeyRecord& key) const;

 private:
  struct Entry {
    registry::ApiKeyRecord record;
    std::shared_ptr<const Principal> principal;
  };

  explicit KeyService(const Options& options) : options_(options) {}
  absl::StatusOr<CreatedKey> MakeKey(const KeySpec& spec, const std::string& created_by);
  // The store first, then the map (write_mu_ held by the caller).
  absl::Status Store(const CreatedKey& created) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::StatusOr<registry::ApiKeyRecord> Write(registry::ApiKeyRecord record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  std::shared_ptr<const Entry> Find(std::string_view key_id) const;
  size_t Count() const;
  absl::StatusOr<std::shared_ptr<const Entry>> Reachable(std::string_view key_id,
                                                         const Principal& caller) const;
  // The caller's own record, while it is active; PERMISSION_DENIED once revoked or expired.
  absl::StatusOr<registry::ApiKeyRecord> ActiveCaller(const Principal& caller) const;
  // How many project-scoped keys stand in a row from `key` up the line of keys that made it
  // (0 for a key for every project). CreateKey keeps it at most 16, so a request counts against
  // at most 17 limits.
  int ProjectKeyChainDepth(const registry::ApiKeyRecord& key) const;
  // A project admin's bounds on the keys it makes or changes.
  absl::Status CheckWithinCaller(const registry::ApiKeyRecord& caller, absl::Time expire_time,
                                 const std::optional<registry::RateLimit>& limit) const;
  // An active admin key for every project without an expiry. Revoking or expiring the last one
  // is refused (an expiring admin key does not count, or revoking the permanent one would leave
  // nobody once it expired); --reset-admin-key makes a new one.
  bool IsPermanentGlobalAdmin(const registry::ApiKeyRecord& key) const;
  bool AnotherPermanentGlobalAdmin(std::string_view key_id) const;
  // An admin key for every project, persisted (by `persist`) before it is recorded.
  absl::Status MakeAdminKey(const std::string& display_name,
                            const std::function<absl::Status(const std::string& key)>& persist)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  static std::shared_ptr<const Entry> MakeEntry(registry::ApiKeyRecord record);

  const Options options_;
  // Serializes changes (store, then map); never held by Authenticate.
  absl::Mutex write_mu_;
  mutable absl::Mutex mu_;
  // By key id; changed only with write_mu_ held too.
  // Shared, so Authenticate copies a pointer, not a record, under the reader lock.
  std::map<std::string, std::shared_ptr<const Entry>, std::less<>> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::auth
