// KeyService over a real SQLite store with a fake clock: the first admin key, the lifecycle
// (create, use, update, revoke, expire) seen by the very next Authenticate, what survives a
// restart, who may manage which key, and the refusals of malformed requests.
#include "auth/key_service.h"

#include <fstream>
#include <iterator>

#include "auth/api_key_secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/sqlite/sqlite_metadata_store.h"
#include "testing/fake_clock.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::auth {
namespace {

using testing::FakeClock;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kPepper(64, 'x');

class KeyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    service_.reset();
    store_.reset();
    auto store = registry::sqlite::SqliteMetadataStore::Open({.path = tmp_.path() / "keys.db"});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto service = KeyService::Create({.store = store_.get(), .clock = &clock_, .pepper = kPepper});
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
  }

  // The first admin key's secret.
  std::string Bootstrap() {
    std::string written;
    auto created = service_->CreateFirstAdminKey([&](const std::string& key) {
      written = key;
      return absl::OkStatus();
    });
    EXPECT_TRUE(created.ok() && *created);
    if (!written.empty()) admin_key_ = written;
    return written;
  }

  // The first admin key's principal (made on first use): keys are created and changed by a
  // real, active key.
  Principal Admin() {
    if (admin_key_.empty()) admin_key_ = Bootstrap();
    auto who = service_->Authenticate(admin_key_);
    EXPECT_TRUE(who.ok()) << who.status();
    return who.ok() ? *who->principal : Principal{};
  }
  std::string admin_key_;

  CreatedKey Create(KeySpec spec, const Principal& caller) {
    auto created = service_->CreateKey(spec, caller);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : CreatedKey{};
  }

  testing::ScopedTempDir tmp_;
  FakeClock clock_;
  std::unique_ptr<registry::sqlite::SqliteMetadataStore> store_;
  std::unique_ptr<KeyService> service_;
};

TEST_F(KeyServiceTest, TheFirstAdminKeyIsMadeOnceAndOnlyAfterItWasPersisted) {
  // A failed persist leaves no key: the next start tries again.
  auto failed = service_->CreateFirstAdminKey(
      [](const std::string&) { return absl::PermissionDeniedError("read-only disk"); });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(service_->size(), 0u);

  const std::string key = Bootstrap();
  auto again = service_->CreateFirstAdminKey([](const std::string&) { return absl::OkStatus(); });
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  auto who = service_->Authenticate(key);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->principal->role, Role::kAdmin);
  EXPECT_TRUE(who->principal->AllProjects());
  EXPECT_EQ(who->principal->key_id, *KeyIdOf(key));
}

TEST_F(KeyServiceTest, OnlyTheHashIsStored) {
  const std::string key = Bootstrap();
  const auto keys = service_->ListKeys(Admin());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_THAT(keys[0].secret_hash, Not(HasSubstr(key.substr(kKeyIdLength + 1))));
  EXPECT_EQ(keys[0].secret_hash, HashKey(kPepper, keys[0].salt, key));
  // The database files (with the write-ahead log) hold the key id but not the secret part.
  std::string bytes;
  for (const char* file : {"keys.db", "keys.db-wal"}) {
    std::ifstream db(tmp_.path() / file, std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(db), std::istreambuf_iterator<char>());
  }
  EXPECT_NE(bytes.find(keys[0].key_id), std::string::npos);
  EXPECT_EQ(bytes.find(key.substr(kKeyIdLength + 1)), std::string::npos);
}

TEST_F(KeyServiceTest, AuthenticateRefusesEverythingButTheRightActiveKey) {
  const CreatedKey k = Create({.role = Role::kViewer, .projects = {"a"}}, Admin());
  ASSERT_TRUE(service_->Authenticate(k.key).ok());
  std::string wrong = k.key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  const GeneratedKey unknown = GenerateKey();
  for (const std::string& bad : {wrong, unknown.key}) {
    auto r = service_->Authenticate(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
    // Unknown and wrong read the same: a guess learns nothing about which ids exist.
    EXPECT_EQ(r.status().message(), "invalid API key");
  }
  auto malformed = service_->Authenticate("Bearer something");
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(malformed.status().message()), HasSubstr("malformed"));
}

TEST_F(KeyServiceTest, RevokedAndExpiredKeysFailOnTheirNextRequestAndAfterARestart) {
  const CreatedKey revoked = Create({.role = Role::kPredictor, .projects = {"a"}}, Admin());
  const CreatedKey expiring = Create({.role = Role::kPredictor,
                                      .projects = {"a"},
                                      .expire_time = clock_.Now() + absl::Seconds(10)},
                                     Admin());
  ASSERT_TRUE(service_->RevokeKey(revoked.record.key_id, Admin()).ok());
  auto r = service_->Authenticate(revoked.key);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("revoked"));
  EXPECT_TRUE(service_->Authenticate(expiring.key).ok());
  clock_.Advance(absl::Seconds(10));
  r = service_->Authenticate(expiring.key);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("expired"));
  EXPECT_EQ(service_->StateOf(expiring.record), KeyService::KeyState::kExpired);

  Open();  // a restart reads the store
  EXPECT_THAT(std::string(service_->Authenticate(revoked.key).status().message()),
              HasSubstr("revoked"));
  EXPECT_THAT(std::string(service_->Authenticate(expiring.key).status().message()),
              HasSubstr("expired"));
  // Revoking twice is harmless.
  auto again = service_->RevokeKey(revoked.record.key_id, Admin());
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->revoke_time, absl::InfiniteFuture());
}

TEST_F(KeyServiceTest, UpdateChangesNameExpiryAndRateLimitOnly) {
  const CreatedKey k =
      Create({.display_name = "ci", .role = Role::kDeployer, .projects = {"a"}}, Admin());
  auto updated = service_->UpdateKey(
      k.record.key_id,
      {.display_name = "ci deployer",
       .expire_time = clock_.Now() + absl::Hours(1),
       .rate_limit = registry::RateLimit{.requests_per_second = 5, .burst = 10}},
      Admin());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->display_name, "ci deployer");
  auto who = service_->Authenticate(k.key);
  ASSERT_TRUE(who.ok());
  ASSERT_EQ(who->rate_limits.size(), 1u);
  EXPECT_EQ(who->rate_limits[0].target, k.record.key_id);
  EXPECT_EQ(who->rate_limits[0].limit.burst, 10);
  Open();
  who = service_->Authenticate(k.key);
  ASSERT_TRUE(who.ok());
  ASSERT_EQ(who->rate_limits.size(), 1u);
  EXPECT_EQ(who->rate_limits[0].limit.requests_per_second, 5);
  // Removing the limit; an expiry in the past is refused (revoke is the way to end a key now).
  EXPECT_TRUE(service_
                  ->UpdateKey(k.record.key_id, {.rate_limit = std::optional<registry::RateLimit>()},
                              Admin())
                  .ok());
  EXPECT_TRUE(service_->Authenticate(k.key)->rate_limits.empty());
  EXPECT_EQ(
      service_->UpdateKey(k.record.key_id, {.expire_time = clock_.Now()}, Admin()).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyServiceTest, ProjectAdminsManageOnlyKeysWithinTheirProjects) {
  const CreatedKey a_admin = Create({.role = Role::kAdmin, .projects = {"a"}}, Admin());
  const Principal caller = *service_->Authenticate(a_admin.key)->principal;
  const CreatedKey b_key = Create({.role = Role::kViewer, .projects = {"b"}}, Admin());
  const CreatedKey both = Create({.role = Role::kViewer, .projects = {"a", "b"}}, Admin());

  // It creates within "a" only, and never "*".
  EXPECT_TRUE(service_->CreateKey({.role = Role::kDeployer, .projects = {"a"}}, caller).ok());
  for (const std::vector<std::string>& projects :
       std::vector<std::vector<std::string>>{{"b"}, {"a", "b"}, {"*"}}) {
    EXPECT_EQ(
        service_->CreateKey({.role = Role::kViewer, .projects = projects}, caller).status().code(),
        absl::StatusCode::kPermissionDenied);
  }
  // It lists its own project's keys only.
  for (const registry::ApiKeyRecord& k : service_->ListKeys(caller)) {
    EXPECT_EQ(k.projects, std::vector<std::string>{"a"}) << k.key_id;
  }
  // Another project's key, a key reaching beyond, and a key that does not exist: one answer.
  const std::string missing = GenerateKey().key_id;
  for (const std::string& id : {b_key.record.key_id, both.record.key_id, missing}) {
    auto got = service_->GetKey(id, caller);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied) << id;
    EXPECT_EQ(service_->RevokeKey(id, caller).status().code(), absl::StatusCode::kPermissionDenied);
  }
  // An admin of every project tells a missing key apart.
  EXPECT_EQ(service_->GetKey(missing, Admin()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KeyServiceTest, AProjectAdminCannotGiveItselfOrOthersMoreThanItHas) {
  const CreatedKey limited =
      Create({.role = Role::kAdmin,
              .projects = {"a"},
              .expire_time = clock_.Now() + absl::Hours(1),
              .rate_limit = registry::RateLimit{.requests_per_second = 10, .burst = 10}},
             Admin());
  const Principal caller = *service_->Authenticate(limited.key)->principal;
  // Not itself: its limits are the global admin's to set.
  auto self = service_->UpdateKey(caller.key_id,
                                  {.rate_limit = std::optional<registry::RateLimit>()}, caller);
  EXPECT_EQ(self.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(self.status().message()), HasSubstr("may not change itself"));
  // Not a key that outlives it, or has no rate limit, or a higher one.
  const registry::RateLimit within{.requests_per_second = 5, .burst = 5};
  const KeySpec too_long{.role = Role::kViewer,
                         .projects = {"a"},
                         .expire_time = clock_.Now() + absl::Hours(2),
                         .rate_limit = within};
  const KeySpec unlimited{
      .role = Role::kViewer, .projects = {"a"}, .expire_time = clock_.Now() + absl::Minutes(30)};
  const KeySpec faster{.role = Role::kViewer,
                       .projects = {"a"},
                       .expire_time = clock_.Now() + absl::Minutes(30),
                       .rate_limit = registry::RateLimit{.requests_per_second = 20, .burst = 5}};
  for (const KeySpec& spec : {too_long, unlimited, faster}) {
    EXPECT_EQ(service_->CreateKey(spec, caller).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  auto ok = service_->CreateKey({.role = Role::kViewer,
                                 .projects = {"a"},
                                 .expire_time = clock_.Now() + absl::Minutes(30),
                                 .rate_limit = within},
                                caller);
  ASSERT_TRUE(ok.ok()) << ok.status();
  // Nor raise the key it made beyond its own bounds.
  EXPECT_EQ(service_
                ->UpdateKey(ok->record.key_id, {.rate_limit = std::optional<registry::RateLimit>()},
                            caller)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  // Once revoked (a request already admitted with it, say), it changes nothing more.
  ASSERT_TRUE(service_->RevokeKey(caller.key_id, Admin()).ok());
  EXPECT_EQ(service_
                ->CreateKey({.role = Role::kViewer,
                             .projects = {"a"},
                             .expire_time = clock_.Now() + absl::Minutes(30),
                             .rate_limit = within},
                            caller)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(KeyServiceTest, TheLastAdminKeyForEveryProjectCannotBeRevoked) {
  const std::string first = Bootstrap();
  const Principal first_admin = *service_->Authenticate(first)->principal;
  auto refused = service_->RevokeKey(first_admin.key_id, first_admin);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("last admin key for every project"));
  // Nor given an expiry (it would end the same way).
  EXPECT_EQ(service_
                ->UpdateKey(first_admin.key_id, {.expire_time = clock_.Now() + absl::Minutes(1)},
                            first_admin)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  const CreatedKey second = Create({.role = Role::kAdmin, .projects = {"*"}}, first_admin);
  EXPECT_TRUE(service_->RevokeKey(first_admin.key_id, first_admin).ok());
  EXPECT_FALSE(service_->Authenticate(first).ok());
  EXPECT_TRUE(service_->Authenticate(second.key).ok());
}

// A limited project admin's limit bounds the keys it makes, together with itself: making keys
// does not multiply its rate.
TEST_F(KeyServiceTest, AKeysLimitCoversTheKeysMadeUnderIt) {
  const registry::RateLimit parent_limit{.requests_per_second = 10, .burst = 10};
  const CreatedKey parent =
      Create({.role = Role::kAdmin, .projects = {"a"}, .rate_limit = parent_limit}, Admin());
  const Principal parent_principal = *service_->Authenticate(parent.key)->principal;
  const CreatedKey child =
      Create({.role = Role::kPredictor,
              .projects = {"a"},
              .rate_limit = registry::RateLimit{.requests_per_second = 5, .burst = 5}},
             parent_principal);
  const CreatedKey unlimited_by_itself =
      Create({.role = Role::kPredictor, .projects = {"a"}}, Admin());
  auto who = service_->Authenticate(child.key);
  ASSERT_TRUE(who.ok());
  ASSERT_EQ(who->rate_limits.size(), 2u);
  EXPECT_EQ(who->rate_limits[0].target, child.record.key_id);
  EXPECT_EQ(who->rate_limits[0].kind, LimitKind::kKey);
  EXPECT_EQ(who->rate_limits[1].target, parent.record.key_id);
  EXPECT_EQ(who->rate_limits[1].kind, LimitKind::kKeysMadeUnder);
  EXPECT_EQ(who->rate_limits[1].limit.requests_per_second, 10);
  // The global admin that made the parent has no limit: the chain adds nothing for it.
  EXPECT_TRUE(service_->Authenticate(unlimited_by_itself.key)->rate_limits.empty());
  // A change to the parent's limit reaches the child's next request.
  ASSERT_TRUE(
      service_
          ->UpdateKey(parent.record.key_id,
                      {.rate_limit = registry::RateLimit{.requests_per_second = 2, .burst = 2}},
                      Admin())
          .ok());
  EXPECT_EQ(service_->Authenticate(child.key)->rate_limits[1].limit.requests_per_second, 2);
}

// Down a line of project admins each one adds its shared limit; a limited admin for every
// project bounds only itself (it may make unlimited keys anyway).
TEST_F(KeyServiceTest, SharedLimitsComeFromProjectKeysUpToTheFirstKeyForEveryProject) {
  const registry::RateLimit limit{.requests_per_second = 10, .burst = 10};
  const CreatedKey global =
      Create({.role = Role::kAdmin, .projects = {"*"}, .rate_limit = limit}, Admin());
  const Principal global_principal = *service_->Authenticate(global.key)->principal;
  const CreatedKey top =
      Create({.role = Role::kAdmin, .projects = {"a"}, .rate_limit = limit}, global_principal);
  const CreatedKey middle = Create({.role = Role::kAdmin, .projects = {"a"}, .rate_limit = limit},
                                   *service_->Authenticate(top.key)->principal);
  const CreatedKey bottom = Create({.role = Role::kAdmin, .projects = {"a"}, .rate_limit = limit},
                                   *service_->Authenticate(middle.key)->principal);
  const CreatedKey leaf = Create({.role = Role::kPredictor, .projects = {"a"}, .rate_limit = limit},
                                 *service_->Authenticate(bottom.key)->principal);
  auto who = service_->Authenticate(leaf.key);
  ASSERT_TRUE(who.ok());
  ASSERT_EQ(who->rate_limits.size(), 4u);
  EXPECT_EQ(who->rate_limits[0].target, leaf.record.key_id);
  EXPECT_EQ(who->rate_limits[0].kind, LimitKind::kKey);
  EXPECT_EQ(who->rate_limits[1].target, bottom.record.key_id);
  EXPECT_EQ(who->rate_limits[2].target, middle.record.key_id);
  EXPECT_EQ(who->rate_limits[3].target, top.record.key_id);
  for (size_t i = 1; i < who->rate_limits.size(); ++i) {
    EXPECT_EQ(who->rate_limits[i].kind, LimitKind::kKeysMadeUnder);
  }
  // The limited global admin's limit is its own only: not among the leaf's, nor the top's.
  ASSERT_EQ(service_->Authenticate(top.key)->rate_limits.size(), 1u);
  EXPECT_EQ(service_->Authenticate(top.key)->rate_limits[0].target, top.record.key_id);
  EXPECT_EQ(service_->Authenticate(top.key)->rate_limits[0].kind, LimitKind::kKey);
}

// At most 16 project-scoped keys stand in a row: the next is refused, by name, and an admin for
// every project can still make keys there.
TEST_F(KeyServiceTest, ALineOfProjectKeysIsBounded) {
  Principal maker = Admin();
  std::string last_id;
  for (int depth = 1; depth <= 16; ++depth) {
    const CreatedKey next = Create({.role = Role::kAdmin, .projects = {"a"}}, maker);
    maker = *service_->Authenticate(next.key)->principal;
    last_id = next.record.key_id;
  }
  absl::StatusOr<CreatedKey> refused =
      service_->CreateKey({.role = Role::kPredictor, .projects = {"a"}}, maker);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(last_id));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("at most 16"));
  EXPECT_TRUE(service_->CreateKey({.role = Role::kPredictor, .projects = {"a"}}, Admin()).ok());
}

// An admin key that expires is no successor: revoking the permanent one for it would leave
// nobody able to manage keys once it ran out.
TEST_F(KeyServiceTest, AnExpiringAdminKeyDoesNotReleaseTheLastPermanentOne) {
  const std::string first = Bootstrap();
  const Principal first_admin = *service_->Authenticate(first)->principal;
  const CreatedKey expiring = Create(
      {.role = Role::kAdmin, .projects = {"*"}, .expire_time = clock_.Now() + absl::Hours(1)},
      first_admin);
  const Principal expiring_admin = *service_->Authenticate(expiring.key)->principal;
  EXPECT_EQ(service_->RevokeKey(first_admin.key_id, expiring_admin).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_
                ->UpdateKey(first_admin.key_id, {.expire_time = clock_.Now() + absl::Hours(2)},
                            expiring_admin)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  // The expiring one itself may go: the permanent one stays.
  EXPECT_TRUE(service_->RevokeKey(expiring_admin.key_id, first_admin).ok());
  clock_.Advance(absl::Hours(3));
  EXPECT_TRUE(service_->Authenticate(first).ok());
}

TEST_F(KeyServiceTest, MalformedSpecsAreRefusedByName) {
  struct Case {
    KeySpec spec;
    std::string needle;
  };
  const Case cases[] = {
      {{.role = Role::kViewer, .projects = {}}, "at least one project"},
      {{.role = Role::kViewer, .projects = {"a/b"}}, "not a project id"},
      {{.role = Role::kViewer, .projects = {"*", "a"}}, "cannot be listed with"},
      {{.role = Role::kViewer,
        .projects = {"a"},
        .endpoints = {"projects/a/locations/l/endpoints/e"}},
       "predictor keys only"},
      {{.role = Role::kPredictor, .projects = {"a"}, .endpoints = {"e"}}, "not an endpoint name"},
      {{.role = Role::kPredictor,
        .projects = {"a"},
        .endpoints = {"projects/b/locations/l/endpoints/e"}},
       "outside the key's projects"},
      {{.role = Role::kViewer, .projects = {"a"}, .expire_time = clock_.Now()},
       "not in the future"},
      {{.role = Role::kViewer,
        .projects = {"a"},
        .rate_limit = registry::RateLimit{.requests_per_second = 0, .burst = 1}},
       "requestsPerSecond"},
      {{.role = Role::kViewer,
        .projects = {"a"},
        .rate_limit = registry::RateLimit{.requests_per_second = 1e-10, .burst = 1}},
       "requestsPerSecond"},
      {{.role = Role::kViewer,
        .projects = {"a"},
        .rate_limit = registry::RateLimit{.requests_per_second = 1, .burst = 0}},
       "burst"},
      {{.display_name = std::string(129, 'x'), .role = Role::kViewer, .projects = {"a"}},
       "displayName"},
      {{.display_name = "a\nb", .role = Role::kViewer, .projects = {"a"}}, "control characters"},
  };
  for (const Case& c : cases) {
    auto created = service_->CreateKey(c.spec, Admin());
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << c.needle;
    EXPECT_THAT(std::string(created.status().message()), HasSubstr(c.needle));
  }
}

TEST_F(KeyServiceTest, TheNumberOfKeysIsBounded) {
  const Principal admin = Admin();  // key 1 of 3
  auto service = KeyService::Create(
      {.store = store_.get(), .clock = &clock_, .pepper = kPepper, .max_keys = 3});
  ASSERT_TRUE(service.ok());
  EXPECT_TRUE((*service)->CreateKey({.role = Role::kViewer, .projects = {"a"}}, admin).ok());
  EXPECT_TRUE((*service)->CreateKey({.role = Role::kViewer, .projects = {"a"}}, admin).ok());
  EXPECT_EQ(
      (*service)->CreateKey({.role = Role::kViewer, .projects = {"a"}}, admin).status().code(),
      absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace tessera::auth
