// Every autoscaling metric deploy accepts is applied by the autoscaler, and what the autoscaler
// does not know is refused at deploy: both read control/autoscaling_metrics.h. Driven through
// the two real entry points: NormalizeResources (DeployModel's validation) and
// AutoscalerPolicyOptions (what AutoscalerLoop feeds its policy).
#include "control/autoscaling_metrics.h"

#include <string>

#include "control/autoscaler_loop.h"
#include "control/deployment_rules.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::control {
namespace {

using registry::DeployedModel;
using ::testing::HasSubstr;

const HostResources kHost{.cpu_count = 2, .memory_bytes = int64_t{16} << 30};

DeployedModel WithMetric(const std::string& name, int target) {
  DeployedModel dm;
  dm.id = "1";
  registry::DedicatedResources r;
  r.machine_spec.machine_type = "n1-standard-2";
  r.min_replica_count = 1;
  r.max_replica_count = 3;
  r.autoscaling_metric_specs = {{name, target}};
  dm.dedicated_resources = r;
  return dm;
}

TEST(AutoscalingMetricsTest, EveryAcceptedMetricIsApplied) {
  const AutoscalerLoop::Options loop;  // defaults: in-flight target 8, CPU policy default 60
  const AutoscalerOptions defaults = AutoscalerPolicyOptions(WithMetric("", 0), loop);
  ASSERT_GE(SupportedAutoscalingMetrics().size(), 3u);
  for (const AutoscalingMetric& metric : SupportedAutoscalingMetrics()) {
    SCOPED_TRACE(std::string(metric.name));
    const int target = 37;  // neither default
    DeployedModel dm = WithMetric(std::string(metric.name), target);
    ASSERT_TRUE(NormalizeResources(dm, kHost).ok());
    const AutoscalerOptions applied = AutoscalerPolicyOptions(dm, loop);
    switch (metric.signal) {
      case AutoscalingSignal::kCpuUtilizationPercent:
        EXPECT_EQ(applied.target_cpu_utilization_percent, target);
        EXPECT_EQ(applied.target_in_flight_per_replica, defaults.target_in_flight_per_replica);
        break;
      case AutoscalingSignal::kInFlightPerReplica:
        EXPECT_EQ(applied.target_in_flight_per_replica, target);
        EXPECT_EQ(applied.target_cpu_utilization_percent, defaults.target_cpu_utilization_percent);
        break;
    }
    // Target 0 is Vertex's "not set": the default stays.
    DeployedModel unset = WithMetric(std::string(metric.name), 0);
    ASSERT_TRUE(NormalizeResources(unset, kHost).ok());
    const AutoscalerOptions kept = AutoscalerPolicyOptions(unset, loop);
    EXPECT_EQ(kept.target_cpu_utilization_percent, defaults.target_cpu_utilization_percent);
    EXPECT_EQ(kept.target_in_flight_per_replica, defaults.target_in_flight_per_replica);
  }
}

TEST(AutoscalingMetricsTest, TheNamesUsersSendAreInTheTable) {
  // Vertex's two online-prediction metrics and Tessera's own name for the load signal.
  EXPECT_NE(FindAutoscalingMetric("aiplatform.googleapis.com/prediction/online/cpu/utilization"),
            nullptr);
  EXPECT_NE(FindAutoscalingMetric("aiplatform.googleapis.com/prediction/online/request_count"),
            nullptr);
  EXPECT_NE(FindAutoscalingMetric("tessera.dev/prediction/online/in_flight_per_replica"), nullptr);
}

TEST(AutoscalingMetricsTest, UnsupportedMetricsAreRefusedByName) {
  for (const char* name : {"aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle",
                           "tessera.dev/replica/in_flight", "custom.googleapis.com/qps", ""}) {
    SCOPED_TRACE(name);
    DeployedModel dm = WithMetric(name, 50);
    absl::StatusOr<MachineType> t = NormalizeResources(dm, kHost);
    ASSERT_TRUE(absl::IsInvalidArgument(t.status())) << t.status();
    EXPECT_THAT(std::string(t.status().message()),
                HasSubstr(std::string("unsupported metricName \"") + name + "\""));
    EXPECT_THAT(std::string(t.status().message()), HasSubstr("request_count"));
  }
  DeployedModel gpu =
      WithMetric("aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle", 50);
  EXPECT_THAT(std::string(NormalizeResources(gpu, kHost).status().message()),
              HasSubstr("no accelerators"));
}

TEST(AutoscalingMetricsTest, TargetsOutOfRangeAreRefused) {
  for (const AutoscalingMetric& metric : SupportedAutoscalingMetrics()) {
    SCOPED_TRACE(std::string(metric.name));
    for (int target : {-1, metric.max_target + 1}) {
      DeployedModel dm = WithMetric(std::string(metric.name), target);
      absl::StatusOr<MachineType> t = NormalizeResources(dm, kHost);
      ASSERT_TRUE(absl::IsInvalidArgument(t.status())) << t.status();
      EXPECT_THAT(std::string(t.status().message()), HasSubstr("out of range"));
    }
  }
}

}  // namespace
}  // namespace tessera::control
