#include "control/replica_metrics.h"

#include "gtest/gtest.h"

namespace tessera::control {
namespace {

const metrics::FamilySnapshot* Find(const std::vector<metrics::FamilySnapshot>& all,
                                    const std::string& name) {
  for (const metrics::FamilySnapshot& f : all) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(ReplicaMetricsTest, DeployedModelsAndReplicasBecomeSeries) {
  DeployedModelStatus dm{.endpoint = "projects/p/locations/l/endpoints/e",
                         .deployed_model_id = "3",
                         .model = "projects/p/locations/l/models/m",
                         .model_version_id = "1",
                         .desired_replica_count = 2,
                         .ready_replica_count = 1};
  ReplicaStatus ready{.id = "3-0", .state = ReplicaState::kReady, .pid = 100};
  ready.cpu_threads = 2;
  ready.cpu_seconds = 12.5;
  ready.cpu_utilization = 0.75;
  ready.rss_bytes = 300 << 20;
  ready.started = absl::FromUnixSeconds(100);
  ready.ready_since = absl::FromUnixSeconds(102);
  ready.precision = "int8";
  ready.isa = "avx512_core_vnni";
  ready.batch_size_histogram = {{1, 10}, {3, 2}, {8, 5}};
  ReplicaStatus failed{.id = "3-1", .state = ReplicaState::kFailed, .pid = 0, .restarts = 4};
  dm.replicas = {ready, failed};

  const std::vector<metrics::FamilySnapshot> all = ReplicaMetricFamilies({dm});
  const auto value = [&](const std::string& name, size_t sample = 0) {
    const metrics::FamilySnapshot* f = Find(all, name);
    EXPECT_NE(f, nullptr) << name;
    return f != nullptr && sample < f->samples.size() ? f->samples[sample].value : -1;
  };
  EXPECT_EQ(value("tessera_replicas_desired"), 2);
  EXPECT_EQ(value("tessera_replicas_ready"), 1);
  EXPECT_EQ(Find(all, "tessera_replicas")->samples.size(), 4u);  // every state, zeros included
  EXPECT_EQ(value("tessera_replica_cpu_seconds_total"), 12.5);
  EXPECT_EQ(value("tessera_replica_cpu_utilization"), 0.75);
  EXPECT_EQ(value("tessera_model_load_seconds"), 2);
  EXPECT_EQ(value("tessera_replica_resident_memory_bytes"), 300 << 20);
  // The failed replica has no process: only its up and restarts series.
  EXPECT_EQ(Find(all, "tessera_replica_cpu_seconds_total")->samples.size(), 1u);
  EXPECT_EQ(Find(all, "tessera_replica_up")->samples.size(), 2u);
  EXPECT_EQ(value("tessera_replica_restarts_total", 1), 4);
  const metrics::FamilySnapshot* info = Find(all, "tessera_replica_info");
  ASSERT_NE(info, nullptr);
  const auto& labels = info->samples[0].labels;
  EXPECT_EQ(labels[4], std::make_pair(std::string("replica"), std::string("3-0")));
  EXPECT_EQ(labels[5], std::make_pair(std::string("precision"), std::string("int8")));
  // Forward passes 10 x 1, 2 x 3, 5 x 8 as cumulative buckets le 1, 2, 4, 8, ... +Inf.
  const metrics::FamilySnapshot* batches = Find(all, "tessera_batch_size");
  ASSERT_NE(batches, nullptr);
  EXPECT_EQ(batches->type, metrics::MetricType::kHistogram);
  const std::vector<uint64_t>& b = batches->samples[0].buckets;
  ASSERT_EQ(b.size(), batches->bounds.size() + 1);
  EXPECT_EQ(b[0], 10u);
  EXPECT_EQ(b[1], 10u);
  EXPECT_EQ(b[2], 12u);
  EXPECT_EQ(b[3], 17u);
  EXPECT_EQ(b.back(), 17u);
  EXPECT_DOUBLE_EQ(batches->samples[0].sum, 10 + 6 + 40);
}

}  // namespace
}  // namespace tessera::control
