// ModelResolver as a table: names (id, display name, ambiguity), versions, the "latest deployed"
// default, readiness sums across endpoints. Labels need the registry and are covered end to end
// (tests/python/test_protocols.py).
#include "serving/predict/model_resolver.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::serving {
namespace {

using ::testing::HasSubstr;

RoutedDeployedModel Deployed(const std::string& id, const std::string& model,
                             const std::string& version, const std::string& display_name,
                             int ready) {
  RoutedDeployedModel dm;
  dm.id = id;
  dm.model = model;
  dm.model_version_id = version;
  dm.model_display_name = display_name;
  for (int i = 0; i < ready; ++i) {
    dm.ready_replicas.push_back(RoutedReplica{.replica_id = id + "-" + std::to_string(i),
                                              .address = "unix:/tmp/x.sock",
                                              .load = std::make_shared<ReplicaLoad>()});
  }
  return dm;
}

constexpr char kFashion[] = "projects/p/locations/l/models/fashion";
constexpr char kOther[] = "projects/q/locations/l/models/17";
constexpr char kTwin[] = "projects/q/locations/l/models/18";

std::shared_ptr<const RoutingTable> Table() {
  RoutingTableBuilder builder;
  // fashion v2 and v10 on e1 (v10 loading), v2 again on e2; model 17 "shoes"; 18 also "shoes".
  builder.AddEndpoint(
      RoutedEndpoint{.id = "e1",
                     .deployed_models = {Deployed("1", kFashion, "2", "fashion-vit", 1),
                                         Deployed("2", kFashion, "10", "fashion-vit", 0)},
                     .traffic_split = {{"1", 100}}});
  builder.AddEndpoint(RoutedEndpoint{.id = "e2",
                                     .deployed_models = {Deployed("3", kFashion, "2", "fv", 2),
                                                         Deployed("4", kOther, "1", "shoes", 1),
                                                         Deployed("5", kTwin, "1", "shoes", 1)},
                                     .traffic_split = {{"3", 100}}});
  auto table = builder.Build();
  EXPECT_TRUE(table.ok()) << table.status();
  return *table;
}

TEST(ModelResolverTest, ByIdDefaultsToTheHighestDeployedVersion) {
  ModelResolver resolver(nullptr);
  auto model = resolver.Resolve(*Table(), "fashion", "", "", nullptr);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->model, kFashion);
  EXPECT_EQ(model->model_id, "fashion");
  EXPECT_EQ(model->version.version_id, "10");  // numeric order, not text order
  EXPECT_EQ(model->version.ready_replicas, 0);
  ASSERT_EQ(model->versions.size(), 2u);
  EXPECT_EQ(model->versions[0].version_id, "2");
  EXPECT_EQ(model->versions[0].ready_replicas, 3);  // 1 on e1 + 2 on e2
}

TEST(ModelResolverTest, ExplicitVersion) {
  ModelResolver resolver(nullptr);
  auto model = resolver.Resolve(*Table(), "fashion", "2", "", nullptr);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->version.version_id, "2");
  EXPECT_EQ(model->version.input_key, "string_input");
}

TEST(ModelResolverTest, DisplayNameWhenItNamesOneModel) {
  ModelResolver resolver(nullptr);
  auto model = resolver.Resolve(*Table(), "fashion-vit", "", "", nullptr);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->model, kFashion);
  // An id wins over a display name: "17" is model 17.
  model = resolver.Resolve(*Table(), "17", "", "", nullptr);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->model, kOther);
}

TEST(ModelResolverTest, Errors) {
  ModelResolver resolver(nullptr);
  const auto table = Table();
  struct Case {
    std::string name, version, label;
    absl::StatusCode code;
    std::string needle;
  };
  const Case cases[] = {
      {"nope", "", "", absl::StatusCode::kNotFound, "no deployed model named \"nope\""},
      {"shoes", "", "", absl::StatusCode::kFailedPrecondition, "ambiguous"},
      {"fashion", "3", "", absl::StatusCode::kNotFound, "deployed versions: 2, 10"},
      {"fashion", "x", "", absl::StatusCode::kInvalidArgument, "not a version number"},
      {"fashion", "02", "", absl::StatusCode::kInvalidArgument, "not a version number"},
      {"fashion", "2", "prod", absl::StatusCode::kInvalidArgument, "not both"},
      {"fashion", "", "prod", absl::StatusCode::kFailedPrecondition, "registry"},
  };
  for (const Case& c : cases) {
    auto model = resolver.Resolve(*table, c.name, c.version, c.label, nullptr);
    EXPECT_EQ(model.status().code(), c.code) << c.name << "@" << c.version << c.label;
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(c.needle));
  }
}

// Two tenants use the same model id; a third has an endpoint without it.
std::shared_ptr<const RoutingTable> TenantTable() {
  RoutingTableBuilder builder;
  builder.AddEndpoint(RoutedEndpoint{
      .id = "a-ep",
      .name = "projects/a/locations/l/endpoints/a-ep",
      .deployed_models = {Deployed("1", "projects/a/locations/l/models/fashion", "1", "f", 1)},
      .traffic_split = {{"1", 100}}});
  builder.AddEndpoint(RoutedEndpoint{.id = "a-empty",
                                     .name = "projects/a/locations/l/endpoints/a-empty",
                                     .deployed_models = {},
                                     .traffic_split = {}});
  builder.AddEndpoint(RoutedEndpoint{
      .id = "b-ep",
      .name = "projects/b/locations/l/endpoints/b-ep",
      .deployed_models = {Deployed("2", "projects/b/locations/l/models/fashion", "3", "f", 1)},
      .traffic_split = {{"2", 100}}});
  auto table = builder.Build();
  EXPECT_TRUE(table.ok()) << table.status();
  return *table;
}

Principal Key(std::vector<std::string> projects, std::vector<std::string> endpoints = {}) {
  return Principal{.key_id = "tsk_0000000000000001",
                   .role = Role::kPredictor,
                   .projects = std::move(projects),
                   .endpoints = std::move(endpoints)};
}

TEST(ModelResolverTest, NamesResolveWithinTheKeysProjects) {
  ModelResolver resolver(nullptr);
  const auto table = TenantTable();
  const Principal a = Key({"a"});
  auto model = resolver.Resolve(*table, "fashion", "", "", &a);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->model, "projects/a/locations/l/models/fashion");
  EXPECT_EQ(model->version.version_id, "1");
  const Principal b = Key({"b"});
  model = resolver.Resolve(*table, "fashion", "", "", &b);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->model, "projects/b/locations/l/models/fashion");
  // Project b's version 3 does not exist for project a's key: the same answer as a version
  // nobody deployed.
  model = resolver.Resolve(*table, "fashion", "3", "", &a);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
}

TEST(ModelResolverTest, AnotherTenantsModelIsNotFoundLikeAMissingOne) {
  ModelResolver resolver(nullptr);
  const auto table = TenantTable();
  const Principal c = Key({"c"});
  auto theirs = resolver.Resolve(*table, "fashion", "", "", &c);
  auto missing = resolver.Resolve(*table, "nothing", "", "", &c);
  EXPECT_EQ(theirs.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(theirs.status().message()),
            std::string(missing.status().message())
                .replace(std::string(missing.status().message()).find("nothing"), 7, "fashion"));
  // A predictor key limited to an endpoint without the model sees none either.
  const Principal narrow = Key({"a"}, {"projects/a/locations/l/endpoints/a-empty"});
  EXPECT_EQ(resolver.Resolve(*table, "fashion", "", "", &narrow).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ModelResolverTest, AKeyForBothTenantsMustUseAnUnambiguousName) {
  ModelResolver resolver(nullptr);
  const auto table = TenantTable();
  const Principal both = Key({"a", "b"});
  auto model = resolver.Resolve(*table, "fashion", "", "", &both);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("ambiguous"));
  const Principal all = Key({"*"});
  EXPECT_EQ(resolver.Resolve(*table, "fashion", "", "", &all).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tessera::serving
