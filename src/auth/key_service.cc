#include "auth/key_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_join.h"
#include "auth/api_key_secret.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "registry/resource_name.h"
#include "spdlog/spdlog.h"

namespace tessera::auth {
namespace {

constexpr size_t kMaxDisplayNameBytes = 128;
constexpr size_t kMaxScopeItems = 100;
constexpr double kMaxRequestsPerSecond = 1e6;
// One request per 1,000 s: the longest Retry-After stays well inside an HTTP client's patience
// (and the 3600 s the header is clamped to).
constexpr double kMinRequestsPerSecond = 0.001;
constexpr int64_t kMaxBurst = 1000000;
// How many project-scoped keys may stand in a row in a line of keys made by keys (a key, the
// key that made it, ...): each limited one adds a bucket to every request below it.
constexpr int kMaxProjectKeyChain = 16;

std::string TimeText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::Status ValidateDisplayName(std::string_view name) {
  if (name.size() > kMaxDisplayNameBytes) {
    return absl::InvalidArgumentError(
        fmt::format("displayName has {} bytes; at most {}", name.size(), kMaxDisplayNameBytes));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("displayName may not hold control characters");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateProject(std::string_view project) {
  absl::StatusOr<registry::LocationName> parsed =
      registry::LocationName::Parse(fmt::format("projects/{}/locations/x", project));
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(fmt::format(
        "project \"{}\" is not a project id (1-63 characters of [A-Za-z0-9._-]) or \"*\"",
        project));
  }
  return absl::OkStatus();
}

bool Contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Whether `caller` reaches every project of `projects`.
bool Reaches(const Principal& caller, const std::vector<std::string>& projects) {
  if (caller.AllProjects()) return true;
  return std::all_of(projects.begin(), projects.end(), [&](const std::string& p) {
    return p != kAllProjects && caller.CoversProject(p);
  });
}

absl::Status OutOfReach(std::string_view key_id) {
  return absl::PermissionDeniedError(
      fmt::format("API key {} is not among the keys of your projects (or does not exist)", key_id));
}

}  // namespace

absl::Status ValidateRateLimit(const registry::RateLimit& limit, std::string_view field) {
  if (!(limit.requests_per_second >= kMinRequestsPerSecond) ||
      limit.requests_per_second > kMaxRequestsPerSecond) {
    return absl::InvalidArgumentError(fmt::format("{}.requestsPerSecond must be in [{:g}, {:g}]",
                                                  field, kMinRequestsPerSecond,
                                                  kMaxRequestsPerSecond));
  }
  if (limit.burst < 1 || limit.burst > kMaxBurst) {
    return absl::InvalidArgumentError(fmt::format("{}.burst must be in [1, {}]", field, kMaxBurst));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<KeyService>> KeyService::Create(const Options& options) {
  if (options.store == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("KeyService: store and clock are required");
  }
  if (options.pepper.size() < 32) {
    return absl::InvalidArgumentError("KeyService: the pepper must have at least 32 characters");
  }
  std::unique_ptr<KeyService> service(new KeyService(options));
  ASSIGN_OR_RETURN(std::vector<registry::ApiKeyRecord> keys,
                   options.store->TransactValue<std::vector<registry::ApiKeyRecord>>(
                       [](registry::MetadataTxn& txn) { return txn.ListApiKeys(); }));
  absl::MutexLock lock(&service->mu_);
  for (registry::ApiKeyRecord& key : keys) {
    std::string id = key.key_id;
    service->keys_.emplace(std::move(id), MakeEntry(std::move(key)));
  }
  return service;
}

std::shared_ptr<const KeyService::Entry> KeyService::MakeEntry(registry::ApiKeyRecord record) {
  auto principal = std::make_shared<Principal>();
  principal->key_id = record.key_id;
  principal->role = RoleFromName(record.role).value_or(Role::kViewer);
  principal->projects = record.projects;
  principal->endpoints = record.endpoints;
  return std::make_shared<const Entry>(
      Entry{.record = std::move(record), .principal = std::move(principal)});
}

bool KeyService::IsActive(const registry::ApiKeyRecord& key) const {
  const absl::Time now = options_.clock->Now();
  return key.revoke_time > now && key.expire_time > now;
}

KeyService::KeyState KeyService::StateOf(const registry::ApiKeyRecord& key) const {
  const absl::Time now = options_.clock->Now();
  if (key.revoke_time <= now) return KeyState::kRevoked;
  if (key.expire_time <= now) return KeyState::kExpired;
  return KeyState::kActive;
}

absl::StatusOr<CreatedKey> KeyService::MakeKey(const KeySpec& spec, const std::string& created_by) {
  RETURN_IF_ERROR(ValidateDisplayName(spec.display_name));
  if (spec.projects.empty()) {
    return absl::InvalidArgumentError("projects must name at least one project (or \"*\")");
  }
  if (spec.projects.size() > kMaxScopeItems || spec.endpoints.size() > kMaxScopeItems) {
    return absl::InvalidArgumentError(fmt::format(
        "a key lists at most {} projects and {} endpoints", kMaxScopeItems, kMaxScopeItems));
  }
  for (const std::string& project : spec.projects) {
    if (project == kAllProjects) {
      if (spec.projects.size() != 1) {
        return absl::InvalidArgumentError("\"*\" (every project) cannot be listed with projects");
      }
      continue;
    }
    RETURN_IF_ERROR(ValidateProject(project));
  }
  if (!spec.endpoints.empty() && spec.role != Role::kPredictor) {
    return absl::InvalidArgumentError(
        fmt::format("endpoints scope predictor keys only; a {} key acts on its whole projects",
                    RoleName(spec.role)));
  }
  Principal scope;  // the new key's own scope, to check its endpoints against its projects
  scope.projects = spec.projects;
  for (const std::string& endpoint : spec.endpoints) {
    absl::StatusOr<registry::EndpointName> parsed = registry::EndpointName::Parse(endpoint);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("endpoints: \"{}\" is not an endpoint name "
                      "(projects/{{project}}/locations/{{location}}/endpoints/{{endpoint}})",
                      endpoint));
    }
    if (!scope.CoversProject(parsed->parent.project)) {
      return absl::InvalidArgumentError(
          fmt::format("endpoint {} is outside the key's projects ({})", endpoint,
                      absl::StrJoin(spec.projects, ", ")));
    }
  }
  const absl::Time now = options_.clock->Now();
  if (spec.expire_time <= now) {
    return absl::InvalidArgumentError(
        fmt::format("expireTime {} is not in the future", TimeText(spec.expire_time)));
  }
  if (spec.rate_limit) RETURN_IF_ERROR(ValidateRateLimit(*spec.rate_limit, "rateLimit"));

  GeneratedKey generated = GenerateKey();
  CreatedKey created;
  registry::ApiKeyRecord& r = created.record;
  r.key_id = generated.key_id;
  r.display_name = spec.display_name;
  r.role = std::string(RoleName(spec.role));
  r.projects = spec.projects;
  r.endpoints = spec.endpoints;
  r.salt = RandomHex(16);
  r.secret_hash = HashKey(options_.pepper, r.salt, generated.key);
  r.created_by = created_by;
  r.create_time = now;
  r.expire_time = spec.expire_time;
  r.rate_limit = spec.rate_limit;
  created.key = std::move(generated.key);
  return created;
}

absl::Status KeyService::Store(const CreatedKey& created) {
  RETURN_IF_ERROR(options_.store->Transact(
      [&](registry::MetadataTxn& txn) { return txn.CreateApiKey(created.record); }));
  absl::MutexLock lock(&mu_);
  keys_.emplace(created.record.key_id, MakeEntry(created.record));
  return absl::OkStatus();
}

absl::StatusOr<registry::ApiKeyRecord> KeyService::Write(registry::ApiKeyRecord record) {
  RETURN_IF_ERROR(options_.store->Transact(
      [&](registry::MetadataTxn& txn) { return txn.UpdateApiKey(record); }));
  std::shared_ptr<const Entry> entry = MakeEntry(record);
  absl::MutexLock lock(&mu_);
  keys_[record.key_id] = std::move(entry);
  return record;
}

std::shared_ptr<const KeyService::Entry> KeyService::Find(std::string_view key_id) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto it = keys_.find(key_id);
  return it == keys_.end() ? nullptr : it->second;
}

size_t KeyService::Count() const {
  absl::ReaderMutexLock lock(&mu_);
  return keys_.size();
}

bool KeyService::IsPermanentGlobalAdmin(const registry::ApiKeyRecord& key) const {
  return key.role == RoleName(Role::kAdmin) && Contains(key.projects, kAllProjects) &&
         key.expire_time == absl::InfiniteFuture() && IsActive(key);
}

bool KeyService::AnotherPermanentGlobalAdmin(std::string_view key_id) const {
  absl::ReaderMutexLock lock(&mu_);
  return std::any_of(keys_.begin(), keys_.end(), [&](const auto& item) {
    return item.first != key_id && IsPermanentGlobalAdmin(item.second->record);
  });
}

int KeyService::ProjectKeyChainDepth(const registry::ApiKeyRecord& key) const {
  absl::ReaderMutexLock lock(&mu_);
  int depth = 0;
  const registry::ApiKeyRecord* at = &key;
  // Keys are made by keys that existed before them, so the line has no cycle; the bound is a
  // backstop against a corrupt store.
  while (at != nullptr && !Contains(at->projects, kAllProjects) && depth <= kMaxProjectKeyChain) {
    ++depth;
    const auto it = keys_.find(at->created_by);
    at = it == keys_.end() ? nullptr : &it->second->record;
  }
  return depth;
}

absl::StatusOr<registry::ApiKeyRecord> KeyService::ActiveCaller(const Principal& caller) const {
  std::shared_ptr<const Entry> entry = Find(caller.key_id);
  if (entry == nullptr || !IsActive(entry->record)) {
    return absl::PermissionDeniedError(
        fmt::format("the calling API key {} is no longer active", caller.key_id));
  }
  return entry->record;
}

absl::Status KeyService::CheckWithinCaller(const registry::ApiKeyRecord& caller,
                                           absl::Time expire_time,
                                           const std::optional<registry::RateLimit>& limit) const {
  // An admin for every project is bounded by nothing; a project admin gives no key more time
  // or more requests than it has itself.
  if (Contains(caller.projects, kAllProjects)) return absl::OkStatus();
  if (expire_time > caller.expire_time) {
    return absl::PermissionDeniedError(
        fmt::format("API key {} expires at {}: the keys it makes or changes may not outlive it",
                    caller.key_id, TimeText(caller.expire_time)));
  }
  if (caller.rate_limit &&
      (!limit || limit->requests_per_second > caller.rate_limit->requests_per_second ||
       limit->burst > caller.rate_limit->burst)) {
    return absl::PermissionDeniedError(fmt::format(
        "API key {} is limited to {:g} requests/s (burst {}): the keys it makes or changes need a "
        "rateLimit within that",
        caller.key_id, caller.rate_limit->requests_per_second, caller.rate_limit->burst));
  }
  return absl::OkStatus();
}

absl::Status KeyService::MakeAdminKey(
    const std::string& display_name,
    const std::function<absl::Status(const std::string& key)>& persist) {
  if (Count() >= options_.max_keys) {
    return absl::ResourceExhaustedError(
        fmt::format("{} keys exist; at most {}", Count(), options_.max_keys));
  }
  ASSIGN_OR_RETURN(CreatedKey created, MakeKey({.display_name = display_name,
                                                .role = Role::kAdmin,
                                                .projects = {std::string(kAllProjects)}},
                                               ""));
  RETURN_IF_ERROR(persist(created.key));  // before it is recorded: see the header
  RETURN_IF_ERROR(Store(created));
  spdlog::info("made the admin key {} ({})", created.record.key_id, display_name);
  return absl::OkStatus();
}

absl::StatusOr<bool> KeyService::CreateFirstAdminKey(
    const std::function<absl::Status(const std::string& key)>& persist) {
  absl::MutexLock writer(&write_mu_);
  if (Count() > 0) return false;
  RETURN_IF_ERROR(MakeAdminKey("first admin key", persist));
  return true;
}

absl::Status KeyService::ResetAdminKey(
    const std::function<absl::Status(const std::string& key)>& persist) {
  absl::MutexLock writer(&write_mu_);
  return MakeAdminKey("admin key (reset)", persist);
}

absl::StatusOr<CreatedKey> KeyService::CreateKey(const KeySpec& spec, const Principal& caller) {
  if (!Reaches(caller, spec.projects)) {
    return absl::PermissionDeniedError(fmt::format(
        "API key {} may create keys only within its own projects ({}); asked for {}", caller.key_id,
        absl::StrJoin(caller.projects, ", "), absl::StrJoin(spec.projects, ", ")));
  }
  absl::MutexLock writer(&write_mu_);
  ASSIGN_OR_RETURN(registry::ApiKeyRecord creator, ActiveCaller(caller));
  RETURN_IF_ERROR(CheckWithinCaller(creator, spec.expire_time, spec.rate_limit));
  if (const int depth = ProjectKeyChainDepth(creator); depth >= kMaxProjectKeyChain) {
    return absl::FailedPreconditionError(fmt::format(
        "API key {} was made by a line of {} keys limited to some projects; at most {} may stand "
        "in a row: ask an admin for every project to make this key",
        creator.key_id, depth, kMaxProjectKeyChain));
  }
  if (Count() >= options_.max_keys) {
    return absl::ResourceExhaustedError(fmt::format(
        "{} API keys exist (revoked ones included); at most {}", Count(), options_.max_keys));
  }
  ASSIGN_OR_RETURN(CreatedKey created, MakeKey(spec, caller.key_id));
  RETURN_IF_ERROR(Store(created));
  return created;
}

std::vector<registry::ApiKeyRecord> KeyService::ListKeys(const Principal& caller) const {
  std::vector<registry::ApiKeyRecord> out;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [id, entry] : keys_) {
    if (Reaches(caller, entry->record.projects)) out.push_back(entry->record);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.create_time != b.create_time ? a.create_time < b.create_time : a.key_id < b.key_id;
  });
  return out;
}

absl::StatusOr<std::shared_ptr<const KeyService::Entry>> KeyService::Reachable(
    std::string_view key_id, const Principal& caller) const {
  std::shared_ptr<const Entry> entry = Find(key_id);
  if (entry == nullptr) {
    if (!caller.AllProjects()) return OutOfReach(key_id);
    return absl::NotFoundError(fmt::format("API key {} not found", key_id));
  }
  if (!Reaches(caller, entry->record.projects)) return OutOfReach(key_id);
  return entry;
}

absl::StatusOr<registry::ApiKeyRecord> KeyService::GetKey(std::string_view key_id,
                                                          const Principal& caller) const {
  ASSIGN_OR_RETURN(std::shared_ptr<const Entry> entry, Reachable(key_id, caller));
  return entry->record;
}

absl::StatusOr<registry::ApiKeyRecord> KeyService::UpdateKey(std::string_view key_id,
                                                             const KeyUpdate& update,
                                                             const Principal& caller) {
  absl::MutexLock writer(&write_mu_);
  ASSIGN_OR_RETURN(registry::ApiKeyRecord changer, ActiveCaller(caller));
  ASSIGN_OR_RETURN(std::shared_ptr<const Entry> entry, Reachable(key_id, caller));
  if (key_id == caller.key_id && !caller.AllProjects()) {
    return absl::PermissionDeniedError(fmt::format(
        "API key {} is limited to some projects and may not change itself (its limits are an "
        "admin's for every project to set)",
        caller.key_id));
  }
  registry::ApiKeyRecord record = entry->record;
  if (update.display_name) {
    RETURN_IF_ERROR(ValidateDisplayName(*update.display_name));
    record.display_name = *update.display_name;
  }
  if (update.expire_time) {
    if (*update.expire_time <= options_.clock->Now()) {
      return absl::InvalidArgumentError(
          fmt::format("expireTime {} is not in the future (revoke the key to end it now)",
                      TimeText(*update.expire_time)));
    }
    if (*update.expire_time != absl::InfiniteFuture() && IsPermanentGlobalAdmin(record) &&
        !AnotherPermanentGlobalAdmin(record.key_id)) {
      return absl::FailedPreconditionError(fmt::format(
          "API key {} is the last admin key for every project that never expires; create "
          "another one before giving it an expiry",
          record.key_id));
    }
    record.expire_time = *update.expire_time;
  }
  if (update.rate_limit) {
    if (*update.rate_limit) RETURN_IF_ERROR(ValidateRateLimit(**update.rate_limit, "rateLimit"));
    record.rate_limit = *update.rate_limit;
  }
  RETURN_IF_ERROR(CheckWithinCaller(changer, record.expire_time, record.rate_limit));
  return Write(std::move(record));
}

absl::StatusOr<registry::ApiKeyRecord> KeyService::RevokeKey(std::string_view key_id,
                                                             const Principal& caller) {
  absl::MutexLock writer(&write_mu_);
  RETURN_IF_ERROR(ActiveCaller(caller).status());
  ASSIGN_OR_RETURN(std::shared_ptr<const Entry> entry, Reachable(key_id, caller));
  registry::ApiKeyRecord record = entry->record;
  const absl::Time now = options_.clock->Now();
  if (record.revoke_time <= now) return record;
  if (IsPermanentGlobalAdmin(record) && !AnotherPermanentGlobalAdmin(record.key_id)) {
    return absl::FailedPreconditionError(
        fmt::format("API key {} is the last admin key for every project that never expires; create "
                    "another one before revoking it",
                    record.key_id));
  }
  record.revoke_time = now;
  return Write(std::move(record));
}

absl::StatusOr<Authenticated> KeyService::Authenticate(std::string_view key) const {
  const std::optional<std::string_view> key_id = KeyIdOf(key);
  if (!key_id) {
    return absl::UnauthenticatedError(fmt::format(
        "malformed API key: Tessera keys are {} characters, \"{}\" + 16 hex digits + \"_\" + "
        "43 characters",
        kKeyLength, kKeyPrefix));
  }
  std::shared_ptr<const Entry> entry;
  {
    absl::ReaderMutexLock lock(&mu_);
    const auto it = keys_.find(*key_id);
    if (it != keys_.end()) entry = it->second;
  }
  // An unknown id costs the same HMAC as a known one: the time of a refusal does not tell which
  // key ids exist.
  static const std::string kNoSalt(32, '0');
  const std::string hash = HashKey(options_.pepper, entry ? entry->record.salt : kNoSalt, key);
  if (entry == nullptr || !HashesEqual(hash, entry->record.secret_hash)) {
    return absl::UnauthenticatedError("invalid API key");
  }
  const registry::ApiKeyRecord& record = entry->record;
  const absl::Time now = options_.clock->Now();
  if (record.revoke_time <= now) {
    return absl::UnauthenticatedError(
        fmt::format("API key {} was revoked at {}", record.key_id, TimeText(record.revoke_time)));
  }
  if (record.expire_time <= now) {
    return absl::UnauthenticatedError(
        fmt::format("API key {} expired at {}", record.key_id, TimeText(record.expire_time)));
  }
  Authenticated authenticated{.principal = entry->principal};
  if (record.rate_limit) {
    authenticated.rate_limits.push_back(
        {.target = record.key_id, .limit = *record.rate_limit, .kind = LimitKind::kKey});
  }
  // A project-scoped key's limit also bounds every key made under it, together (a limited
  // project admin cannot escape its limit by making keys), in a bucket apart from its own
  // requests'. The walk stops at the first key for every project: such an admin may make
  // unlimited keys anyway, so its limit bounds only itself.
  absl::ReaderMutexLock lock(&mu_);
  std::string_view issuer = record.created_by;
  for (int depth = 0; depth < kMaxProjectKeyChain && !issuer.empty(); ++depth) {
    const auto it = keys_.find(issuer);
    if (it == keys_.end()) break;
    const registry::ApiKeyRecord& ancestor = it->second->record;
    if (Contains(ancestor.projects, kAllProjects)) break;
    if (ancestor.rate_limit) {
      authenticated.rate_limits.push_back({.target = ancestor.key_id,
                                           .limit = *ancestor.rate_limit,
                                           .kind = LimitKind::kKeysMadeUnder});
    }
    issuer = ancestor.created_by;
  }
  return authenticated;
}

}  // namespace tessera::auth
