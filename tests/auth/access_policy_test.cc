// The role policy as a table: every role x action, then the scope checks in their order.
#include "auth/access_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::auth {
namespace {

using ::testing::HasSubstr;

TEST(AccessPolicyTest, RolesAgainstActions) {
  struct Row {
    Role role;
    bool pub, authenticated, read, predict, write, admin;
  };
  const Row rows[] = {
      {Role::kViewer, true, true, true, false, false, false},
      {Role::kPredictor, true, true, false, true, false, false},
      {Role::kDeployer, true, true, true, true, true, false},
      {Role::kAdmin, true, true, true, true, true, true},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(RoleName(r.role));
    EXPECT_EQ(RoleAllows(r.role, Action::kPublic), r.pub);
    EXPECT_EQ(RoleAllows(r.role, Action::kAuthenticated), r.authenticated);
    EXPECT_EQ(RoleAllows(r.role, Action::kRead), r.read);
    EXPECT_EQ(RoleAllows(r.role, Action::kPredict), r.predict);
    EXPECT_EQ(RoleAllows(r.role, Action::kWrite), r.write);
    EXPECT_EQ(RoleAllows(r.role, Action::kAdmin), r.admin);
  }
}

Principal Key(Role role, std::vector<std::string> projects,
              std::vector<std::string> endpoints = {}) {
  return Principal{.key_id = "tsk_00000000000000aa",
                   .role = role,
                   .projects = std::move(projects),
                   .endpoints = std::move(endpoints)};
}

TEST(AccessPolicyTest, RoleRefusalNamesTheKeyTheRoleAndWhatWasNeeded) {
  const absl::Status s = Authorize(Key(Role::kViewer, {"a"}), Action::kWrite, {.project = "a"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("tsk_00000000000000aa"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("role viewer"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("deployer or admin"));
}

TEST(AccessPolicyTest, ProjectScope) {
  const Principal a = Key(Role::kDeployer, {"a"});
  EXPECT_TRUE(Authorize(a, Action::kWrite, {.project = "a"}).ok());
  const absl::Status other = Authorize(a, Action::kRead, {.project = "b"});
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(other.message()), HasSubstr("project \"b\""));
  EXPECT_TRUE(Authorize(Key(Role::kViewer, {"*"}), Action::kRead, {.project = "b"}).ok());
  // Global routes name no project: the role decides alone.
  EXPECT_TRUE(Authorize(a, Action::kAuthenticated, {}).ok());
}

TEST(AccessPolicyTest, EveryProjectCallsNeedAKeyForEveryProject) {
  const absl::Status s =
      Authorize(Key(Role::kAdmin, {"a"}), Action::kAdmin, {.project = "a", .every_project = true});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("every project"));
  EXPECT_TRUE(
      Authorize(Key(Role::kAdmin, {"*"}), Action::kAdmin, {.project = "a", .every_project = true})
          .ok());
}

TEST(AccessPolicyTest, PredictorEndpointLists) {
  const Principal p = Key(Role::kPredictor, {"a"}, {"projects/a/locations/l/endpoints/e1"});
  EXPECT_TRUE(Authorize(p, Action::kPredict,
                        {.project = "a", .endpoint = "projects/a/locations/l/endpoints/e1"})
                  .ok());
  const absl::Status s = Authorize(
      p, Action::kPredict, {.project = "a", .endpoint = "projects/a/locations/l/endpoints/e2"});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("endpoints/e2"));
  // Without a list: every endpoint of its projects, none of another project's.
  const Principal all = Key(Role::kPredictor, {"a"});
  EXPECT_TRUE(Authorize(all, Action::kPredict,
                        {.project = "a", .endpoint = "projects/a/locations/l/endpoints/e2"})
                  .ok());
  EXPECT_FALSE(Authorize(all, Action::kPredict,
                         {.project = "b", .endpoint = "projects/b/locations/l/endpoints/e2"})
                   .ok());
}

TEST(PrincipalTest, CoversEndpointParsesTheProjectOutOfTheName) {
  const Principal p = Key(Role::kPredictor, {"a"});
  EXPECT_TRUE(p.CoversEndpoint("projects/a/locations/l/endpoints/e"));
  EXPECT_FALSE(p.CoversEndpoint("projects/ab/locations/l/endpoints/e"));
  EXPECT_FALSE(p.CoversEndpoint("projects/a"));
  EXPECT_FALSE(p.CoversEndpoint(""));
  EXPECT_FALSE(p.CoversProject(""));
  EXPECT_EQ(RoleFromName("deployer"), Role::kDeployer);
  EXPECT_EQ(RoleFromName("Admin"), std::nullopt);
}

}  // namespace
}  // namespace tessera::auth
