#include "serving/predict/predict_metrics.h"

#include "gtest/gtest.h"

namespace tessera::serving {
namespace {

const metrics::FamilySnapshot& Family(const std::vector<metrics::FamilySnapshot>& all,
                                      const std::string& name) {
  for (const metrics::FamilySnapshot& f : all) {
    if (f.name == name) return f;
  }
  static const metrics::FamilySnapshot none;
  ADD_FAILURE() << "no family " << name;
  return none;
}

PredictRecord Routed(std::string endpoint) {
  return PredictRecord{.endpoint = std::move(endpoint),
                       .deployed_model_id = "7",
                       .model = "projects/p/locations/l/models/m",
                       .model_version_id = "2"};
}

TEST(PredictMetricsTest, CountsEachAnswerWithItsLabelsAndTheReplicasTimings) {
  metrics::MetricsRegistry registry;
  std::unique_ptr<PredictMetrics> m = *PredictMetrics::Create(registry);
  PredictRecord ok = Routed("projects/p/locations/l/endpoints/e");
  ok.timings = control::ReplicaTimings{.reported = true,
                                       .queue = absl::Milliseconds(1),
                                       .preprocess = absl::Milliseconds(2),
                                       .inference = absl::Milliseconds(30)};
  m->Started(PredictProtocol::kVertex);
  m->Started(PredictProtocol::kVertex);
  const std::vector<metrics::FamilySnapshot> before = registry.Snapshot();
  EXPECT_EQ(Family(before, "tessera_predict_in_flight").samples[0].value, 2);
  m->Finished(PredictProtocol::kVertex, ok, 200, absl::Milliseconds(40));
  // An error has no stage timings even if a replica sent some.
  PredictRecord failed = ok;
  m->Finished(PredictProtocol::kVertex, failed, 400, absl::Milliseconds(5));
  m->Shed("predict_queue_full");

  const std::vector<metrics::FamilySnapshot> all = registry.Snapshot();
  const auto& requests = Family(all, "tessera_predict_requests_total");
  ASSERT_EQ(requests.samples.size(), 2u);
  const auto& labels = requests.samples[0].labels;
  ASSERT_EQ(labels.size(), 6u);
  EXPECT_EQ(labels[0].first, "protocol");
  EXPECT_EQ(labels[0].second, "vertex");
  EXPECT_EQ(labels[1].second, "projects/p/locations/l/endpoints/e");
  EXPECT_EQ(labels[2].second, "7");
  EXPECT_EQ(labels[4].second, "2");
  EXPECT_EQ(labels[5].first, "code");
  EXPECT_EQ(Family(all, "tessera_predict_latency_seconds").samples[0].buckets.back(), 2u);
  const auto& inference = Family(all, "tessera_predict_inference_seconds");
  ASSERT_EQ(inference.samples.size(), 1u);
  EXPECT_EQ(inference.samples[0].buckets.back(), 1u);
  EXPECT_DOUBLE_EQ(inference.samples[0].sum, 0.03);
  EXPECT_EQ(Family(all, "tessera_predict_in_flight").samples[0].value, 0);
  EXPECT_EQ(Family(all, "tessera_load_shed_requests_total").samples[0].value, 1);
}

TEST(PredictMetricsTest, RetainEndpointsDropsTheSeriesOfDeletedEndpointsOnly) {
  metrics::MetricsRegistry registry;
  std::unique_ptr<PredictMetrics> m = *PredictMetrics::Create(registry);
  m->Finished(PredictProtocol::kVertex, Routed("projects/p/locations/l/endpoints/a"), 200,
              absl::Milliseconds(1));
  m->Finished(PredictProtocol::kTfServing, Routed("projects/p/locations/l/endpoints/b"), 200,
              absl::Milliseconds(1));
  m->Finished(PredictProtocol::kVertex, PredictRecord{}, 404, absl::Milliseconds(1));
  m->RetainEndpoints({"projects/p/locations/l/endpoints/a"});
  const std::vector<metrics::FamilySnapshot> all = registry.Snapshot();
  const auto& requests = Family(all, "tessera_predict_requests_total");
  ASSERT_EQ(requests.samples.size(), 2u);  // a's, and the unrouted one
  for (const metrics::Sample& s : requests.samples) {
    EXPECT_NE(s.labels[1].second, "projects/p/locations/l/endpoints/b");
  }
}

}  // namespace
}  // namespace tessera::serving
