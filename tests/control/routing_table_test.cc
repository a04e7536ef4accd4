#include "control/routing_table.h"

#include <atomic>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_random.h"

namespace tessera {
namespace {

using ::tessera::testing::FakeRandom;
using ::testing::HasSubstr;

RoutedReplica Replica(const std::string& id, std::shared_ptr<ReplicaLoad> load = nullptr) {
  return RoutedReplica{.replica_id = id,
                       .address = "unix:/tmp/tessera-test/" + id + ".sock",
                       .load = load ? std::move(load) : std::make_shared<ReplicaLoad>()};
}

RoutedDeployedModel DeployedModel(const std::string& id, const std::string& model_id,
                                  const std::string& version, std::vector<RoutedReplica> replicas) {
  RoutedDeployedModel dm;
  dm.id = id;
  dm.model = "projects/p/locations/us-central1/models/" + model_id;
  dm.model_version_id = version;
  dm.model_display_name = "fashion-vit";
  dm.ready_replicas = std::move(replicas);
  return dm;
}

// Endpoint "e1": deployed models "d1" (model 7 v1, 90%, replicas r1 r2) and "d2" (model 7 v2, 10%,
// replica r3); endpoint "e2": "d3" (model 7 v1, 100%, replica r4); endpoint "empty": nothing.
struct Fixture {
  std::map<std::string, std::shared_ptr<ReplicaLoad>> loads;
  std::shared_ptr<const RoutingTable> table;

  Fixture() {
    for (const char* r : {"r1", "r2", "r3", "r4"}) loads[r] = std::make_shared<ReplicaLoad>();
    RoutingTableBuilder builder(3);
    builder.AddEndpoint(RoutedEndpoint{
        .id = "e1",
        .name = "projects/p/locations/us-central1/endpoints/e1",
        .deployed_models = {DeployedModel("d1", "7", "1",
                                          {Replica("r1", loads["r1"]), Replica("r2", loads["r2"])}),
                            DeployedModel("d2", "7", "2", {Replica("r3", loads["r3"])})},
        .traffic_split = {{"d1", 90}, {"d2", 10}}});
    builder.AddEndpoint(RoutedEndpoint{
        .id = "e2",
        .deployed_models = {DeployedModel("d3", "7", "1", {Replica("r4", loads["r4"])})},
        .traffic_split = {{"d3", 100}}});
    builder.AddEndpoint(RoutedEndpoint{.id = "empty"});
    auto built = builder.Build();
    EXPECT_TRUE(built.ok()) << built.status();
    table = *built;
  }
};

TEST(RoutingTableTest, LookupsAndIndexes) {
  Fixture f;
  EXPECT_EQ(f.table->generation(), 3u);
  ASSERT_NE(f.table->FindEndpoint("e1"), nullptr);
  EXPECT_EQ(f.table->FindEndpoint("e1")->deployed_models.size(), 2u);
  EXPECT_EQ(f.table->FindEndpoint("nope"), nullptr);
  auto v1 = f.table->FindByModelVersion("7", "1");
  ASSERT_EQ(v1.size(), 2u);
  EXPECT_EQ(v1[0].deployed_model->id, "d1");
  EXPECT_EQ(v1[0].endpoint->id, "e1");
  EXPECT_EQ(v1[1].deployed_model->id, "d3");
  EXPECT_EQ(v1[1].endpoint->id, "e2");
  EXPECT_EQ(f.table->FindByModelVersion("7", "2").size(), 1u);
  EXPECT_TRUE(f.table->FindByModelVersion("7", "3").empty());
  EXPECT_TRUE(f.table->FindByModelVersion("8", "1").empty());
  EXPECT_EQ(f.table->FindByModel("7").size(), 3u);
  EXPECT_TRUE(f.table->FindByModel("8").empty());
}

TEST(RoutingTableTest, ModelIdFromResourceName) {
  RoutedDeployedModel dm;
  dm.model = "projects/p/locations/l/models/123";
  EXPECT_EQ(dm.ModelId(), "123");
  dm.model = "projects/p/locations/l/models/123@2";
  EXPECT_EQ(dm.ModelId(), "123");
  dm.model = "fashion";
  EXPECT_EQ(dm.ModelId(), "fashion");
}

TEST(RoutingTableTest, SplitPicksDeterministically) {
  Fixture f;
  struct Case {
    double split_draw;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{{0.0, "d1"}, {0.8999, "d1"}, {0.9, "d2"}, {0.99, "d2"}}) {
    FakeRandom random({c.split_draw, 0.0});
    auto route = f.table->PickForEndpoint("e1", {}, random);
    ASSERT_TRUE(route.ok()) << route.status();
    EXPECT_EQ(route->deployed_model().id, c.want) << c.split_draw;
    EXPECT_EQ(route->endpoint().id, "e1");
    EXPECT_EQ(route->deployed_model().model, "projects/p/locations/us-central1/models/7");
    EXPECT_EQ(route->deployed_model().input_key, "string_input");
    EXPECT_EQ(random.draws(), 2);  // one for the split, one for the replica tie-break
  }
}

TEST(RoutingTableTest, PinnedDeployedModelIgnoresSplit) {
  Fixture f;
  // d2 pinned although the split draw says d1; pinning skips the split draw.
  FakeRandom random(0.0);
  auto route = f.table->PickForEndpoint("e1", {.pinned_deployed_model_id = "d2"}, random);
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->deployed_model().id, "d2");
  EXPECT_EQ(route->replica().replica_id, "r3");
  EXPECT_EQ(random.draws(), 1);
}

TEST(RoutingTableTest, PinnedZeroPercentDeployedModelIsReachable) {
  auto load = std::make_shared<ReplicaLoad>();
  RoutingTableBuilder builder;
  builder.AddEndpoint(
      RoutedEndpoint{.id = "e",
                     .deployed_models = {DeployedModel("a", "1", "1", {Replica("ra")}),
                                         DeployedModel("b", "1", "2", {Replica("rb", load)})},
                     .traffic_split = {{"a", 100}}});
  auto table = builder.Build();
  ASSERT_TRUE(table.ok()) << table.status();
  SeededRandom random(1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ((*table)->PickForEndpoint("e", {}, random)->deployed_model().id, "a");
  }
  auto pinned = (*table)->PickForEndpoint("e", {.pinned_deployed_model_id = "b"}, random);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->replica().replica_id, "rb");
  EXPECT_EQ(load->in_flight(), 1);
}

TEST(RoutingTableTest, PickErrors) {
  Fixture f;
  FakeRandom random(0.5);
  struct Case {
    std::string endpoint;
    PickOptions options;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"nope", {}, absl::StatusCode::kNotFound, "endpoint \"nope\" not found"},
      {"empty",
       {},
       absl::StatusCode::kFailedPrecondition,
       "endpoint \"empty\" has no deployed models"},
      {"e1",
       {.pinned_deployed_model_id = "d3"},
       absl::StatusCode::kInvalidArgument,
       "deployed model \"d3\" is not deployed on endpoint \"e1\""},
      {"e2",
       {.exclude_replica_id = "r4"},
       absl::StatusCode::kUnavailable,
       "deployed model \"d3\" on endpoint \"e2\" has no ready replica other than \"r4\""},
  };
  for (const Case& c : cases) {
    auto route = f.table->PickForEndpoint(c.endpoint, c.options, random);
    EXPECT_EQ(route.status().code(), c.code) << route.status();
    EXPECT_THAT(std::string(route.status().message()), HasSubstr(c.message));
  }
}

TEST(RoutingTableTest, EmptySplitAndNoReplicas) {
  RoutingTableBuilder builder;
  builder.AddEndpoint(RoutedEndpoint{
      .id = "stopped", .deployed_models = {DeployedModel("a", "1", "1", {})}, .traffic_split = {}});
  builder.AddEndpoint(RoutedEndpoint{.id = "starting",
                                     .deployed_models = {DeployedModel("b", "1", "1", {})},
                                     .traffic_split = {{"b", 100}}});
  auto table = builder.Build();
  ASSERT_TRUE(table.ok()) << table.status();
  FakeRandom random(0.1);
  auto stopped = (*table)->PickForEndpoint("stopped", {}, random);
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(stopped.status().message()), HasSubstr("sends no traffic"));
  auto starting = (*table)->PickForEndpoint("starting", {}, random);
  EXPECT_EQ(starting.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(starting.status().message()),
              HasSubstr("deployed model \"b\" on endpoint \"starting\" has no ready replica"));
}

TEST(RoutingTableTest, LeastLoadedReplicaAndLeaseLifetime) {
  Fixture f;
  FakeRandom random(0.0);  // split -> d1; ties -> first
  auto r1_busy = ReplicaLease::TryAcquire(f.loads["r1"]);
  {
    auto route = f.table->PickForEndpoint("e1", {}, random);
    ASSERT_TRUE(route.ok());
    EXPECT_EQ(route->replica().replica_id, "r2");  // r1 has one in flight
    EXPECT_EQ(route->replica().address, "unix:/tmp/tessera-test/r2.sock");
    EXPECT_EQ(f.loads["r2"]->in_flight(), 1);
    route->Release();
    EXPECT_EQ(f.loads["r2"]->in_flight(), 0);
    EXPECT_EQ(route->replica().replica_id, "r2");  // references outlive the lease
  }
  EXPECT_EQ(f.loads["r2"]->in_flight(), 0);
  r1_busy.reset();
}

TEST(RoutingTableTest, HeldLeasesSpreadLoadEvenly) {
  Fixture f;
  SeededRandom random(5);
  std::vector<Route> held;
  for (int i = 0; i < 10; ++i) {
    auto route = f.table->PickForEndpoint("e1", {.pinned_deployed_model_id = "d1"}, random);
    ASSERT_TRUE(route.ok());
    held.push_back(std::move(*route));
  }
  EXPECT_EQ(f.loads["r1"]->in_flight(), 5);
  EXPECT_EQ(f.loads["r2"]->in_flight(), 5);
  held.clear();
  EXPECT_EQ(f.loads["r1"]->in_flight(), 0);
  EXPECT_EQ(f.loads["r2"]->in_flight(), 0);
}

TEST(RoutingTableTest, TiesBrokenByRandomSource) {
  Fixture f;
  FakeRandom low({0.0, 0.2});   // split -> d1, tie-break first half -> r1
  FakeRandom high({0.0, 0.7});  // tie-break second half -> r2
  EXPECT_EQ(f.table->PickForEndpoint("e1", {}, low)->replica().replica_id, "r1");
  EXPECT_EQ(f.table->PickForEndpoint("e1", {}, high)->replica().replica_id, "r2");
}

TEST(RoutingTableTest, RetryGoesToAnotherReplicaOfTheSameDeployedModel) {
  Fixture f;
  FakeRandom random(0.0);
  auto first = f.table->PickForEndpoint("e1", {}, random);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->replica().replica_id, "r1");
  first->Release();  // the attempt failed; its slot is returned before the retry
  PickOptions retry = first->RetryOptions();
  EXPECT_EQ(retry.pinned_deployed_model_id, "d1");
  EXPECT_EQ(retry.exclude_replica_id, "r1");
  for (int i = 0; i < 5; ++i) {
    auto second = f.table->PickForEndpoint("e1", retry, random);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->replica().replica_id, "r2");
  }
}

TEST(RoutingTableTest, DrainingReplicaIsSkipped) {
  Fixture f;
  f.loads["r1"]->StartDrain();
  SeededRandom random(3);
  for (int i = 0; i < 20; ++i) {
    auto route = f.table->PickForEndpoint("e1", {.pinned_deployed_model_id = "d1"}, random);
    ASSERT_TRUE(route.ok());
    EXPECT_EQ(route->replica().replica_id, "r2");
  }
  f.loads["r2"]->StartDrain();
  auto none = f.table->PickForEndpoint("e1", {.pinned_deployed_model_id = "d1"}, random);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
}

TEST(RoutingTableTest, PickForModelAcrossEndpoints) {
  Fixture f;
  FakeRandom random(0.0);
  auto r1 = ReplicaLease::TryAcquire(f.loads["r1"]);
  auto r2 = ReplicaLease::TryAcquire(f.loads["r2"]);
  auto route = f.table->PickForModel("7", "1", {}, random);  // r1, r2 busy: r4 on e2
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->replica().replica_id, "r4");
  EXPECT_EQ(route->endpoint().id, "e2");
  EXPECT_EQ(route->deployed_model().id, "d3");

  auto pinned = f.table->PickForModel("7", "1", {.pinned_deployed_model_id = "d1"}, random);
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(pinned->deployed_model().id, "d1");

  auto v2 = f.table->PickForModel("7", "2", {}, random);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->replica().replica_id, "r3");

  auto missing = f.table->PickForModel("7", "9", {}, random);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("version \"9\" of model \"7\" is not deployed"));
  auto wrong_pin = f.table->PickForModel("7", "2", {.pinned_deployed_model_id = "d1"}, random);
  EXPECT_EQ(wrong_pin.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RoutingTableTest, StatisticalNinetyTenThroughTheTable) {
  Fixture f;
  SeededRandom random(2024);
  std::map<std::string, int> counts;
  for (int i = 0; i < 20000; ++i)
    ++counts[f.table->PickForEndpoint("e1", {}, random)->deployed_model().id];
  // sd = sqrt(20000 * 0.1 * 0.9) ~ 42; +-300 is > 7 sd.
  EXPECT_NEAR(counts["d2"], 2000, 300);
  EXPECT_EQ(counts["d1"] + counts["d2"], 20000);
}

struct BuildErrorCase {
  std::string name;
  std::function<void(std::vector<RoutedEndpoint>&)> mutate;
  std::string message;
};

class RoutingTableBuildTest : public ::testing::TestWithParam<BuildErrorCase> {};

TEST_P(RoutingTableBuildTest, RejectsBadInput) {
  std::vector<RoutedEndpoint> endpoints = {RoutedEndpoint{
      .id = "e",
      .deployed_models = {DeployedModel("a", "1", "1", {Replica("r1"), Replica("r2")})},
      .traffic_split = {{"a", 100}}}};
  GetParam().mutate(endpoints);
  RoutingTableBuilder builder;
  for (auto& e : endpoints) builder.AddEndpoint(std::move(e));
  auto table = builder.Build();
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument) << table.status();
  EXPECT_THAT(std::string(table.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RoutingTableBuildTest,
    ::testing::Values(
        BuildErrorCase{"empty_endpoint_id", [](auto& e) { e[0].id = ""; }, "empty id"},
        BuildErrorCase{"duplicate_endpoint", [](auto& e) { e.push_back(e[0]); },
                       "endpoint \"e\" appears twice"},
        BuildErrorCase{"bad_split",
                       [](auto& e) {
                         e[0].traffic_split = {{"a", 50}};
                       },
                       "endpoint \"e\": traffic split percentages must add up to 100, got 50"},
        BuildErrorCase{"split_names_unknown",
                       [](auto& e) {
                         e[0].traffic_split = {{"zz", 100}};
                       },
                       "names deployed model \"zz\""},
        BuildErrorCase{"duplicate_deployed_model",
                       [](auto& e) { e[0].deployed_models.push_back(e[0].deployed_models[0]); },
                       "deployed model \"a\" appears twice on endpoint \"e\""},
        BuildErrorCase{"empty_deployed_model_id", [](auto& e) { e[0].deployed_models[0].id = ""; },
                       "deployed model with an empty id"},
        BuildErrorCase{"empty_model", [](auto& e) { e[0].deployed_models[0].model = ""; },
                       "has an empty model name"},
        BuildErrorCase{"empty_version",
                       [](auto& e) { e[0].deployed_models[0].model_version_id = ""; },
                       "has an empty model version id"},
        BuildErrorCase{"empty_input_key", [](auto& e) { e[0].deployed_models[0].input_key = ""; },
                       "has an empty input key"},
        BuildErrorCase{"duplicate_replica",
                       [](auto& e) { e[0].deployed_models[0].ready_replicas[1].replica_id = "r1"; },
                       "lists replica \"r1\" twice"},
        BuildErrorCase{"empty_replica_id",
                       [](auto& e) { e[0].deployed_models[0].ready_replicas[1].replica_id = ""; },
                       "replica with an empty id"},
        BuildErrorCase{"no_address",
                       [](auto& e) { e[0].deployed_models[0].ready_replicas[0].address = ""; },
                       "replica \"r1\" of deployed model \"a\" on endpoint \"e\" has no address"},
        BuildErrorCase{"no_load",
                       [](auto& e) { e[0].deployed_models[0].ready_replicas[0].load = nullptr; },
                       "has no in-flight counter"}),
    [](const ::testing::TestParamInfo<BuildErrorCase>& info) { return info.param.name; });

TEST(RoutingTableHolderTest, StartsEmptyAndRouteOutlivesPublish) {
  RoutingTableHolder holder;
  SeededRandom random(1);
  EXPECT_EQ(holder.Snapshot()->PickForEndpoint("e1", {}, random).status().code(),
            absl::StatusCode::kNotFound);
  Fixture f;
  holder.Publish(f.table);
  auto route = holder.Snapshot()->PickForEndpoint("e2", {}, random);
  ASSERT_TRUE(route.ok());
  std::weak_ptr<const RoutingTable> old = f.table;
  f.table.reset();
  holder.Publish(nullptr);      // back to empty
  EXPECT_FALSE(old.expired());  // the route pins its snapshot
  EXPECT_EQ(route->deployed_model().id, "d3");
  EXPECT_EQ(f.loads["r4"]->in_flight(), 1);
  route = absl::StatusOr<Route>(absl::CancelledError("done"));
  EXPECT_TRUE(old.expired());
  EXPECT_EQ(f.loads["r4"]->in_flight(), 0);
}

// Readers pick and release while a writer publishes new tables (same replicas, changing split and
// membership) and finally drains replica r1: no reader ever sees an error other than UNAVAILABLE
// for a drained replica, in-flight returns to 0, and the drain completes.
class RoutingTableHolderConcurrencyTest : public ::testing::TestWithParam<int> {};

TEST_P(RoutingTableHolderConcurrencyTest, PublishWhileReading) {
  const int readers = GetParam();
  auto r1 = std::make_shared<ReplicaLoad>();
  auto r2 = std::make_shared<ReplicaLoad>();
  auto make_table = [&](uint64_t generation, bool with_r1) {
    std::vector<RoutedReplica> replicas = {Replica("r2", r2)};
    if (with_r1) replicas.push_back(Replica("r1", r1));
    RoutingTableBuilder builder(generation);
    builder.AddEndpoint(
        RoutedEndpoint{.id = "e",
                       .deployed_models = {DeployedModel("a", "1", "1", replicas),
                                           DeployedModel("b", "1", "2", {Replica("r2", r2)})},
                       .traffic_split = {{"a", static_cast<int>(generation % 101)},
                                         {"b", 100 - static_cast<int>(generation % 101)}}});
    return *builder.Build();
  };
  RoutingTableHolder holder;
  holder.Publish(make_table(0, true));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> picks{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < readers; ++t) {
    threads.emplace_back([&, t] {
      SeededRandom random(t);
      while (!stop.load()) {
        auto route = holder.Snapshot()->PickForEndpoint("e", {}, random);
        if (!route.ok()) {
          errors.fetch_add(1);
          continue;
        }
        // Touch the references: ASan catches any use after the table was swapped out.
        if (route->replica().address.empty() || route->deployed_model().id.empty()) {
          errors.fetch_add(1);
        }
        picks.fetch_add(1);
      }
    });
  }
  for (uint64_t generation = 1; generation <= 200; ++generation) {
    holder.Publish(make_table(generation, true));
    if (generation % 50 == 0) std::this_thread::yield();
  }
  while (picks.load() < 1000) std::this_thread::yield();
  // Scale-down of r1: publish without it, then drain.
  holder.Publish(make_table(201, false));
  EXPECT_TRUE(r1->AwaitDrained(absl::Seconds(30)));
  EXPECT_EQ(r1->in_flight(), 0);
  const int64_t picks_after_drain = picks.load();
  while (picks.load() < picks_after_drain + 1000) std::this_thread::yield();
  stop.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(r1->in_flight(), 0);
  EXPECT_EQ(r2->in_flight(), 0);
}

INSTANTIATE_TEST_SUITE_P(Threads, RoutingTableHolderConcurrencyTest, ::testing::Values(1, 2, 4, 8));

}  // namespace
}  // namespace tessera
