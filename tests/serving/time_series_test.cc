#include "serving/observability/time_series.h"

#include <cmath>

#include "gtest/gtest.h"

namespace tessera::serving {
namespace {

TEST(HistogramQuantileTest, InterpolatesInsideTheBucketLikePrometheus) {
  const std::vector<double> bounds = {0.1, 0.2, 0.4};
  // 10 in (0, 0.1], 10 in (0.1, 0.2], none in (0.2, 0.4], none above.
  EXPECT_NEAR(HistogramQuantile(0.5, bounds, {10, 20, 20, 20}), 0.1, 1e-12);
  EXPECT_NEAR(HistogramQuantile(0.75, bounds, {10, 20, 20, 20}), 0.15, 1e-12);
  EXPECT_NEAR(HistogramQuantile(0.25, bounds, {10, 20, 20, 20}), 0.05, 1e-12);
  // In +Inf: the largest finite bound.
  EXPECT_EQ(HistogramQuantile(0.99, bounds, {0, 0, 0, 5}), 0.4);
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, bounds, {0, 0, 0, 0})));
}

class TimeSeriesRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    requests_ = *registry_.AddCounter("tessera_predict_requests_total", "",
                                      {"protocol", "endpoint", "deployed_model", "code"});
    latency_ = *registry_.AddHistogram("tessera_predict_latency_seconds", "",
                                       {"endpoint", "deployed_model"}, {0.01, 0.1, 1});
    desired_ = *registry_.AddGauge("tessera_replicas_desired", "", {"endpoint", "deployed_model"});
    ready_ = *registry_.AddGauge("tessera_replicas_ready", "", {"endpoint", "deployed_model"});
    cpu_ = *registry_.AddGauge("tessera_replica_cpu_utilization", "",
                               {"endpoint", "deployed_model", "replica"});
  }
  void Deploy(const std::string& id, int replicas) {
    desired_->With({"e", id})->Set(replicas);
    ready_->With({"e", id})->Set(replicas);
  }
  void Serve(const std::string& id, int ok, int failed, double seconds) {
    requests_->With({"vertex", "e", id, "200"})->Increment(ok);
    requests_->With({"vertex", "e", id, "400"})->Increment(failed);
    for (int i = 0; i < ok + failed; ++i) latency_->With({"e", id})->Observe(seconds);
  }

  metrics::MetricsRegistry registry_;
  metrics::CounterFamily* requests_;
  metrics::HistogramFamily* latency_;
  metrics::GaugeFamily* desired_;
  metrics::GaugeFamily* ready_;
  metrics::GaugeFamily* cpu_;
};

TEST_F(TimeSeriesRecorderTest, PointsAreRatesAndQuantilesOfEachInterval) {
  auto recorder = *TimeSeriesRecorder::Create(
      {.registry = &registry_, .resolution = absl::Seconds(10), .window = absl::Seconds(30)});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  Deploy("1", 2);
  cpu_->With({"e", "1", "1-0"})->Set(0.5);
  cpu_->With({"e", "1", "1-1"})->Set(0.7);
  Serve("1", 5, 0, 0.05);
  recorder->Record(t0);  // never recorded before: a baseline, no point
  EXPECT_TRUE(recorder->Series("e")[0].points.empty());
  Serve("1", 18, 2, 0.05);
  recorder->Record(t0 + absl::Seconds(10));
  std::vector<DeployedModelSeries> series = recorder->Series("e");
  ASSERT_EQ(series.size(), 1u);
  ASSERT_EQ(series[0].points.size(), 1u);
  const TimeSeriesPoint& p = series[0].points[0];
  EXPECT_DOUBLE_EQ(p.requests_per_second, 2.0);
  EXPECT_DOUBLE_EQ(p.errors_per_second, 0.2);
  EXPECT_GT(p.latency_p50_seconds, 0.01);  // all 20 in (0.01, 0.1]
  EXPECT_LE(p.latency_p99_seconds, 0.1);
  EXPECT_EQ(p.replicas_ready, 2);
  EXPECT_DOUBLE_EQ(p.cpu_utilization, 0.6);
  // An idle interval: no requests, no latency.
  recorder->Record(t0 + absl::Seconds(20));
  EXPECT_TRUE(std::isnan(recorder->Series("e")[0].points[1].latency_p50_seconds));
  EXPECT_EQ(recorder->Series("e")[0].points[1].requests_per_second, 0);
  EXPECT_TRUE(recorder->Series("other").empty());
}

TEST_F(TimeSeriesRecorderTest, MemoryIsBoundedByTheWindowAndTheDeployedModels) {
  auto recorder = *TimeSeriesRecorder::Create(
      {.registry = &registry_, .resolution = absl::Seconds(1), .window = absl::Seconds(3)});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  Deploy("1", 1);
  for (int i = 0; i < 10; ++i) recorder->Record(t0 + absl::Seconds(i));
  EXPECT_EQ(recorder->Series("e")[0].points.size(), 3u);
  // A deployed model that appears between two points counts from zero since the last one.
  Deploy("2", 1);
  Serve("2", 4, 0, 0.5);
  recorder->Record(t0 + absl::Seconds(10));
  std::vector<DeployedModelSeries> series = recorder->Series("e");
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[1].deployed_model_id, "2");
  ASSERT_EQ(series[1].points.size(), 1u);
  EXPECT_DOUBLE_EQ(series[1].points[0].requests_per_second, 4.0);
  // Undeployed: its points go with it.
  desired_->RemoveIf([](const metrics::LabelValues& v) { return v[1] == "1"; });
  recorder->Record(t0 + absl::Seconds(11));
  series = recorder->Series("e");
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].deployed_model_id, "2");
}

TEST_F(TimeSeriesRecorderTest, RefusesBadOptions) {
  EXPECT_FALSE(TimeSeriesRecorder::Create({.registry = nullptr}).ok());
  EXPECT_FALSE(
      TimeSeriesRecorder::Create({.registry = &registry_, .resolution = absl::ZeroDuration()})
          .ok());
  EXPECT_FALSE(TimeSeriesRecorder::Create(
                   {.registry = &registry_, .resolution = absl::Hours(2), .window = absl::Hours(1)})
                   .ok());
}

}  // namespace
}  // namespace tessera::serving
