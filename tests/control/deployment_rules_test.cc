// Table tests of machine types, resource normalization and the traffic-split rules of
// deploy / undeploy / update (control/machine_types.h, control/deployment_rules.h).
#include "control/deployment_rules.h"

#include <limits>
#include <string>

#include "control/machine_types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/byte_units.h"

namespace tessera::control {
namespace {

using registry::DedicatedResources;
using registry::DeployedModel;
using registry::DeployedModelState;
using registry::Endpoint;
using registry::TrafficSplit;
using ::testing::HasSubstr;

using tessera::testing::kGiB;
const HostResources kHost{.cpu_count = 2, .memory_bytes = 16 * kGiB};

TEST(MachineTypesTest, KnownTypes) {
  struct Case {
    const char* name;
    int threads;
    double gib;
  };
  for (const Case& c : std::vector<Case>{{"n1-standard-2", 2, 7.5},
                                         {"n1-standard-4", 4, 15},
                                         {"n1-highmem-8", 8, 52},
                                         {"n1-highcpu-16", 16, 14.4},
                                         {"e2-standard-2", 2, 8},
                                         {"n2-standard-8", 8, 32},
                                         {"c2-standard-60", 60, 240},
                                         {"tessera-cpu-1", 1, 1},
                                         {"tessera-cpu-4", 4, 4}}) {
    auto t = LookupMachineType(c.name);
    ASSERT_TRUE(t.ok()) << c.name << ": " << t.status();
    EXPECT_EQ(t->cpu_threads, c.threads) << c.name;
    EXPECT_NEAR(static_cast<double>(t->memory_bytes) / kGiB, c.gib, 0.01) << c.name;
  }
  EXPECT_TRUE(LookupMachineType(kDefaultMachineType).ok());
}

TEST(MachineTypesTest, UnknownAndGpuTypesAreRefusedClearly) {
  auto gpu = LookupMachineType("a2-highgpu-1g");
  EXPECT_TRUE(absl::IsInvalidArgument(gpu.status()));
  EXPECT_NE(std::string(gpu.status().message()).find("CPUs only"), std::string::npos);
  for (const char* bad : {"", "n1-standard-3", "n1-standard", "m1-ultramem-40", "tessera-cpu-3"}) {
    auto t = LookupMachineType(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(t.status())) << bad;
    EXPECT_NE(std::string(t.status().message()).find("n1-standard-N"), std::string::npos) << bad;
  }
}

TEST(MachineTypesTest, HostAdmission) {
  auto n1_4 = *LookupMachineType("n1-standard-4");  // 15 GiB
  EXPECT_TRUE(CheckFitsHost(n1_4, 1, kHost).ok());
  auto s = CheckFitsHost(n1_4, 2, kHost);
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_NE(std::string(s.message()).find("30.0 GiB"), std::string::npos) << s;
  // Threads beyond the host's cores are allowed (oversubscription).
  EXPECT_TRUE(CheckFitsHost(*LookupMachineType("tessera-cpu-8"), 1, kHost).ok());
  HostResources detected = HostResources::Detect();
  EXPECT_GT(detected.cpu_count, 0);
  EXPECT_GT(detected.memory_bytes, 0);
}

DeployedModel Dedicated(const std::string& machine, int min, int max) {
  DeployedModel dm;
  dm.display_name = "dm";
  DedicatedResources r;
  r.machine_spec.machine_type = machine;
  r.min_replica_count = min;
  r.max_replica_count = max;
  dm.dedicated_resources = r;
  return dm;
}

TEST(ResourcesTest, NormalizesValidResources) {
  DeployedModel dm = Dedicated("n1-standard-2", 2, 0);
  auto t = NormalizeResources(dm, kHost);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "n1-standard-2");
  EXPECT_EQ(dm.MaxReplicaCount(), 2) << "max defaults to min";
  DeployedModel none;
  ASSERT_TRUE(NormalizeResources(none, kHost).ok());
  ASSERT_TRUE(none.automatic_resources.has_value());
  EXPECT_EQ(none.MinReplicaCount(), 1);
  EXPECT_EQ(none.MaxReplicaCount(), 1);
  DeployedModel automatic;
  automatic.automatic_resources = registry::AutomaticResources{1, 3};
  ASSERT_TRUE(NormalizeResources(automatic, kHost).ok());
  EXPECT_EQ(automatic.MaxReplicaCount(), 3);
  DeployedModel metric = Dedicated("tessera-cpu-2", 1, 4);
  metric.dedicated_resources->autoscaling_metric_specs = {
      {"aiplatform.googleapis.com/prediction/online/cpu/utilization", 70}};
  EXPECT_TRUE(NormalizeResources(metric, kHost).ok());
  DeployedModel unspecified = Dedicated("n1-standard-2", 1, 1);
  unspecified.dedicated_resources->machine_spec.accelerator_type = "ACCELERATOR_TYPE_UNSPECIFIED";
  EXPECT_TRUE(NormalizeResources(unspecified, kHost).ok());
}

TEST(ResourcesTest, RejectsBadResources) {
  struct Case {
    const char* what;
    DeployedModel dm;
    absl::StatusCode code;
    const char* message;
  };
  std::vector<Case> cases;
  cases.push_back({"min 0", Dedicated("n1-standard-2", 0, 1), absl::StatusCode::kInvalidArgument,
                   "minReplicaCount"});
  cases.push_back({"negative", Dedicated("n1-standard-2", -1, 1),
                   absl::StatusCode::kInvalidArgument, "negative"});
  cases.push_back({"max < min", Dedicated("n1-standard-2", 3, 2),
                   absl::StatusCode::kInvalidArgument, "less than"});
  cases.push_back({"no machine type", Dedicated("", 1, 1), absl::StatusCode::kInvalidArgument,
                   "machineType is required"});
  cases.push_back({"unknown machine", Dedicated("x1-huge", 1, 1),
                   absl::StatusCode::kInvalidArgument, "unknown machine type"});
  cases.push_back({"too big for host", Dedicated("n1-highmem-8", 1, 1),
                   absl::StatusCode::kFailedPrecondition, "cannot hold"});
  cases.push_back({"too many replicas", Dedicated("n1-standard-2", 3, 3),
                   absl::StatusCode::kFailedPrecondition, "cannot hold"});
  DeployedModel gpu = Dedicated("n1-standard-4", 1, 1);
  gpu.dedicated_resources->machine_spec.accelerator_type = "NVIDIA_TESLA_T4";
  gpu.dedicated_resources->machine_spec.accelerator_count = 1;
  cases.push_back({"accelerator", gpu, absl::StatusCode::kInvalidArgument, "no accelerators"});
  DeployedModel count = Dedicated("n1-standard-4", 1, 1);
  count.dedicated_resources->machine_spec.accelerator_count = 2;
  cases.push_back(
      {"accelerator count", count, absl::StatusCode::kInvalidArgument, "acceleratorCount"});
  DeployedModel both = Dedicated("n1-standard-2", 1, 1);
  both.automatic_resources = registry::AutomaticResources{1, 1};
  cases.push_back({"both kinds", both, absl::StatusCode::kInvalidArgument, "not both"});
  DeployedModel metric = Dedicated("n1-standard-2", 1, 2);
  metric.dedicated_resources->autoscaling_metric_specs = {
      {"aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle", 60}};
  cases.push_back(
      {"unknown metric", metric, absl::StatusCode::kInvalidArgument, "unsupported metricName"});
  DeployedModel target = Dedicated("n1-standard-2", 1, 2);
  target.dedicated_resources->autoscaling_metric_specs = {
      {"aiplatform.googleapis.com/prediction/online/cpu/utilization", 150}};
  cases.push_back({"metric target", target, absl::StatusCode::kInvalidArgument, "out of range"});
  DeployedModel auto_bad;
  auto_bad.automatic_resources = registry::AutomaticResources{4, 2};
  cases.push_back(
      {"automatic max < min", auto_bad, absl::StatusCode::kInvalidArgument, "less than"});
  for (Case& c : cases) {
    auto t = NormalizeResources(c.dm, kHost);
    EXPECT_EQ(t.status().code(), c.code) << c.what << ": " << t.status();
    EXPECT_NE(std::string(t.status().message()).find(c.message), std::string::npos)
        << c.what << ": " << t.status();
  }
}

TEST(ServingOptionsTest, Bounds) {
  const MachineType machine{.name = "n1-standard-2", .cpu_threads = 2};
  DeployedModel dm;
  dm.display_name = "x";
  EXPECT_TRUE(ValidateServingOptions(dm, machine).ok());
  // The message names the request field.
  auto refused = [&](auto edit) -> std::string {
    DeployedModel copy = dm;
    edit(copy);
    absl::Status s = ValidateServingOptions(copy, machine);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    return std::string(s.message());
  };
  EXPECT_THAT(refused([](DeployedModel& d) { d.display_name = ""; }), HasSubstr("displayName"));
  EXPECT_THAT(refused([](DeployedModel& d) { d.batching.max_batch_size = 0; }),
              HasSubstr("deployedModel.tessera.batching.maxBatchSize"));
  EXPECT_THAT(refused([](DeployedModel& d) { d.batching.max_batch_size = 2000; }),
              HasSubstr("maxBatchSize"));
  EXPECT_THAT(refused([](DeployedModel& d) { d.batching.max_queue_delay_us = -1; }),
              HasSubstr("maxQueueDelayUs"));
  EXPECT_THAT(refused([](DeployedModel& d) { d.batching.max_queue_size = 0; }),
              HasSubstr("maxQueueSize"));
  // What the replica refuses at start is refused here too: a queue smaller than a batch.
  EXPECT_THAT(refused([](DeployedModel& d) {
                d.batching.max_batch_size = 16;
                d.batching.max_queue_size = 8;
              }),
              HasSubstr("deployedModel.tessera.batching.maxQueueSize (8) must be at least "
                        "deployedModel.tessera.batching.maxBatchSize (16)"));
  EXPECT_THAT(refused([](DeployedModel& d) { d.input_key = ""; }), HasSubstr("inputKey"));
  EXPECT_THAT(refused([](DeployedModel& d) { d.input_key = std::string(65, 'k'); }),
              HasSubstr("inputKey"));
  EXPECT_THAT(refused([](DeployedModel& d) { d.precision = "fp8"; }), HasSubstr("precision"));
  for (double floor : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THAT(refused([floor](DeployedModel& d) { d.min_precision_agreement = floor; }),
                HasSubstr("deployedModel.tessera.minPrecisionAgreement must be in [0, 1]"));
  }
  EXPECT_THAT(refused([](DeployedModel& d) { d.precision = "int4"; }),
              HasSubstr("must be \"fp32\", \"bf16\" or \"int8\", got \"int4\""));
}

// A small queue is fine: requests are capped at the queue size instead of 64 instances (the
// replica refuses a per-request cap above its queue).
TEST(ServingOptionsTest, SmallQueueCapsInstancesPerRequest) {
  const MachineType machine{.name = "n1-standard-4", .cpu_threads = 4};
  DeployedModel dm;
  dm.display_name = "x";
  dm.batching.max_batch_size = 4;
  dm.batching.max_queue_size = 16;
  ASSERT_TRUE(ValidateServingOptions(dm, machine).ok());
  ReplicaSpec spec = ReplicaSpecFor(dm, machine);
  EXPECT_EQ(spec.max_instances, 16);
  EXPECT_EQ(spec.threads, 4);
  EXPECT_TRUE(ValidateReplicaSpec(spec, kReplicaFlagNames).ok());
  dm.batching.max_queue_size = 1000;
  EXPECT_EQ(ReplicaSpecFor(dm, machine).max_instances, kDefaultMaxInstancesPerRequest);
}

Endpoint WithModels(const std::vector<std::pair<std::string, DeployedModelState>>& models,
                    TrafficSplit split) {
  Endpoint e;
  e.name = "projects/p/locations/l/endpoints/1";
  for (const auto& [id, state] : models) {
    DeployedModel dm;
    dm.id = id;
    dm.state = state;
    e.deployed_models.push_back(dm);
  }
  e.traffic_split = std::move(split);
  return e;
}

constexpr auto kDeployed = DeployedModelState::kDeployed;
constexpr auto kDeploying = DeployedModelState::kDeploying;

TEST(DeploySplitTest, Table) {
  struct Case {
    const char* what;
    Endpoint endpoint;
    TrafficSplit requested;
    std::optional<TrafficSplit> expected;  // nullopt: INVALID_ARGUMENT
  };
  Endpoint empty = WithModels({}, {});
  Endpoint one = WithModels({{"5", kDeployed}}, {{"5", 100}});
  Endpoint dark = WithModels({{"5", kDeployed}}, {});
  Endpoint busy = WithModels({{"5", kDeployed}, {"6", kDeploying}}, {{"5", 100}});
  std::vector<Case> cases = {
      {"first deploy, no split: gets all traffic", empty, {}, TrafficSplit{{"0", 100}}},
      {"first deploy, explicit", empty, {{"0", 100}}, TrafficSplit{{"0", 100}}},
      {"second deploy, no split: unchanged", one, {}, TrafficSplit{{"5", 100}}},
      {"endpoint without traffic: new one gets it", dark, {}, TrafficSplit{{"0", 100}}},
      {"canary", one, {{"0", 10}, {"5", 90}}, TrafficSplit{{"0", 10}, {"5", 90}}},
      {"all to new", one, {{"0", 100}}, TrafficSplit{{"0", 100}}},
      {"sum 90", one, {{"0", 10}, {"5", 80}}, std::nullopt},
      {"sum 110", one, {{"0", 20}, {"5", 90}}, std::nullopt},
      {"unknown id", one, {{"0", 50}, {"9", 50}}, std::nullopt},
      {"deploying model named", busy, {{"0", 50}, {"6", 50}}, std::nullopt},
      {"negative", one, {{"0", -10}, {"5", 110}}, std::nullopt},
      {"all zero", one, {{"0", 0}, {"5", 0}}, std::nullopt},
  };
  for (const Case& c : cases) {
    auto split = DeploySplit(c.endpoint, c.requested);
    if (c.expected) {
      ASSERT_TRUE(split.ok()) << c.what << ": " << split.status();
      EXPECT_EQ(*split, *c.expected) << c.what;
    } else {
      EXPECT_TRUE(absl::IsInvalidArgument(split.status())) << c.what << ": " << split.status();
    }
  }
  EXPECT_EQ(ReplaceNewModelKey({{"0", 10}, {"5", 90}}, "7"), (TrafficSplit{{"5", 90}, {"7", 10}}));
}

TEST(UndeploySplitTest, Table) {
  struct Case {
    const char* what;
    Endpoint endpoint;
    std::string id;
    TrafficSplit requested;
    absl::StatusCode code;
    TrafficSplit expected;
  };
  Endpoint one = WithModels({{"5", kDeployed}}, {{"5", 100}});
  Endpoint two = WithModels({{"5", kDeployed}, {"6", kDeployed}}, {{"5", 100}, {"6", 0}});
  Endpoint split = WithModels({{"5", kDeployed}, {"6", kDeployed}}, {{"5", 70}, {"6", 30}});
  Endpoint three =
      WithModels({{"5", kDeployed}, {"6", kDeployed}, {"7", kDeployed}}, {{"5", 50}, {"6", 50}});
  using enum absl::StatusCode;
  std::vector<Case> cases = {
      {"last model: split ends empty", one, "5", {}, kOk, {}},
      {"last model ignores a passed split", one, "5", {{"5", 100}}, kOk, {}},
      {"zero-traffic model, no split", two, "6", {}, kOk, {{"5", 100}}},
      {"model with traffic, no split", split, "6", {}, kFailedPrecondition, {}},
      {"split moves its traffic", split, "6", {{"5", 100}}, kOk, {{"5", 100}}},
      {"split names it with 0", split, "6", {{"5", 100}, {"6", 0}}, kOk, {{"5", 100}}},
      {"split gives it traffic", split, "6", {{"5", 50}, {"6", 50}}, kInvalidArgument, {}},
      {"split does not sum to 100", three, "7", {{"5", 50}, {"6", 40}}, kInvalidArgument, {}},
      {"split names unknown", three, "7", {{"5", 50}, {"9", 50}}, kInvalidArgument, {}},
      {"split moves to two", three, "6", {{"5", 60}, {"7", 40}}, kOk, {{"5", 60}, {"7", 40}}},
  };
  for (const Case& c : cases) {
    auto s = UndeploySplit(c.endpoint, c.id, c.requested);
    EXPECT_EQ(s.status().code(), c.code) << c.what << ": " << s.status();
    if (s.ok()) {
      EXPECT_EQ(*s, c.expected) << c.what;
    }
  }
}

TEST(EndpointSplitTest, Table) {
  Endpoint e = WithModels({{"5", kDeployed}, {"6", kDeployed}, {"7", kDeploying}}, {{"5", 100}});
  EXPECT_TRUE(ValidateEndpointSplit(e, {{"5", 50}, {"6", 50}}).ok());
  EXPECT_TRUE(ValidateEndpointSplit(e, {}).ok()) << "empty: the endpoint takes no traffic";
  EXPECT_FALSE(ValidateEndpointSplit(e, {{"5", 50}, {"7", 50}}).ok()) << "7 is still deploying";
  EXPECT_FALSE(ValidateEndpointSplit(e, {{"5", 99}}).ok());
  EXPECT_FALSE(ValidateEndpointSplit(e, {{"0", 100}}).ok());
}

}  // namespace
}  // namespace tessera::control
