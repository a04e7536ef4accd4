#include "control/autoscaler_policy.h"

#include <functional>
#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace tessera {
namespace {

using ::tessera::testing::FakeClock;
using ::testing::HasSubstr;

constexpr double kMissing = -1;  // in a Step's per-replica vectors: this replica sent no sample

// One Decide() call. Samples are taken "now"; replica i reports cpu[i] and in_flight[i].
struct Step {
  absl::Duration advance;   // clock advance before this step
  int current;              // current replica count; -1: the previous step's desired count
  std::vector<double> cpu;  // per replica, kMissing for none; empty: no cpu samples
  std::vector<double> in_flight = {};
  std::optional<int> capacity = std::nullopt;
  int want = 0;
  ScaleLimit limit = ScaleLimit::kNone;
  std::string reason = "";  // substring
};

struct Scenario {
  std::string name;
  std::function<void(AutoscalerOptions&)> configure;
  std::vector<Step> steps;
};

AutoscalerOptions DefaultTestOptions() {
  AutoscalerOptions o;
  o.min_replica_count = 1;
  o.max_replica_count = 10;
  o.target_in_flight_per_replica = 0;  // cpu only unless a scenario turns it on
  return o;
}

class AutoscalerScenarioTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(AutoscalerScenarioTest, Steps) {
  const Scenario& scenario = GetParam();
  AutoscalerOptions options = DefaultTestOptions();
  if (scenario.configure) scenario.configure(options);
  FakeClock clock;
  auto policy = AutoscalerPolicy::Create(options, &clock);
  ASSERT_TRUE(policy.ok()) << policy.status();
  int previous = 0;
  for (size_t i = 0; i < scenario.steps.size(); ++i) {
    const Step& step = scenario.steps[i];
    clock.Advance(step.advance);
    AutoscalerInput input;
    input.current_replica_count = step.current >= 0 ? step.current : previous;
    input.host_capacity_replicas = step.capacity;
    const size_t replicas = std::max(step.cpu.size(), step.in_flight.size());
    for (size_t r = 0; r < replicas; ++r) {
      ReplicaMetrics m{.replica_id = "r" + std::to_string(r), .time = clock.Now()};
      if (r < step.cpu.size() && step.cpu[r] != kMissing) m.cpu_utilization_percent = step.cpu[r];
      if (r < step.in_flight.size() && step.in_flight[r] != kMissing) {
        m.in_flight_requests = step.in_flight[r];
      }
      input.samples.push_back(m);
    }
    const AutoscalerDecision d = (*policy)->Decide(input);
    SCOPED_TRACE(::testing::Message() << "step " << i << ": " << d.reason);
    EXPECT_EQ(d.desired_replica_count, step.want);
    EXPECT_EQ(ScaleLimitName(d.limited_by), ScaleLimitName(step.limit));
    EXPECT_THAT(d.reason, HasSubstr(step.reason));
    EXPECT_EQ(d.time, clock.Now());
    EXPECT_EQ(d.current_replica_count, input.current_replica_count);
    previous = d.desired_replica_count;
  }
}

const absl::Duration k0 = absl::ZeroDuration();
const absl::Duration k30s = absl::Seconds(30);
const absl::Duration k60s = absl::Seconds(60);

INSTANTIATE_TEST_SUITE_P(
    Table, AutoscalerScenarioTest,
    ::testing::Values(
        Scenario{"steady_on_target",
                 nullptr,
                 {{k0, 2, {60, 62}, {}, {}, 2, ScaleLimit::kNone,
                   "cpu 61% within 10% of target 60% on 2 replicas"}}},
        Scenario{"spike_scales_up_immediately",
                 nullptr,
                 {{k0, 2, {60, 60}, {}, {}, 2},
                  {k30s, -1, {85, 85}, {}, {}, 3, ScaleLimit::kNone,
                   "cpu 85% > target 60% on 2 replicas -> 3"},
                  {k30s, -1, {100, 100, 100}, {}, {}, 5, ScaleLimit::kNone, "-> 5"}}},
        Scenario{"tolerance_band_holds_small_excess",
                 nullptr,
                 // 65/60 = 1.08 is inside the 10% band although ceil(3 * 1.08) = 4.
                 {{k0, 3, {65, 65, 65}, {}, {}, 3, ScaleLimit::kNone, "within 10%"},
                  {k30s, 3, {67, 67, 67}, {}, {}, 4, ScaleLimit::kNone, "cpu 67% > target"}}},
        Scenario{"gradual_decrease_waits_for_the_window",
                 nullptr,
                 {{k0, 4, {60, 60, 60, 60}, {}, {}, 4},
                  {k60s, -1, {30, 30, 30, 30}, {}, {}, 4, ScaleLimit::kStabilization,
                   "scale-down to 2 held by 300s stabilization window (highest recommendation in "
                   "it: 4)"},
                  {k60s, -1, {30, 30, 30, 30}, {}, {}, 4, ScaleLimit::kStabilization},
                  {k60s, -1, {30, 30, 30, 30}, {}, {}, 4, ScaleLimit::kStabilization},
                  {k60s, -1, {30, 30, 30, 30}, {}, {}, 4, ScaleLimit::kStabilization},
                  // t=300s: the t=0 recommendation of 4 has left the window.
                  {k60s, -1, {30, 30, 30, 30}, {}, {}, 2, ScaleLimit::kNone,
                   "cpu 30% < target 60% on 4 replicas -> 2"}}},
        Scenario{"oscillating_load_does_not_flap",
                 nullptr,
                 // Total CPU alternates 160/200 percent-units: 3 replicas are a bit short, 4 are
                 // plenty. Goes to 4 once and stays; every "go back to 3" is held by the window.
                 {{k0, 3, {67, 67, 67}, {}, {}, 4},
                  {k30s, -1, {40, 40, 40, 40}, {}, {}, 4, ScaleLimit::kStabilization},
                  {k30s, -1, {50, 50, 50, 50}, {}, {}, 4},
                  {k30s, -1, {40, 40, 40, 40}, {}, {}, 4, ScaleLimit::kStabilization},
                  {k30s, -1, {50, 50, 50, 50}, {}, {}, 4},
                  {k30s, -1, {40, 40, 40, 40}, {}, {}, 4, ScaleLimit::kStabilization},
                  {k30s, -1, {50, 50, 50, 50}, {}, {}, 4}}},
        Scenario{"scale_up_window_delays_growth",
                 [](AutoscalerOptions& o) { o.scale_up_stabilization_window = absl::Seconds(30); },
                 {{k0, 2, {60, 60}, {}, {}, 2},
                  {absl::Seconds(10), 2, {90, 90}, {}, {}, 2, ScaleLimit::kStabilization,
                   "scale-up to 3 held by 30s stabilization window (lowest recommendation in it: 2)"},
                  {absl::Seconds(35), 2, {90, 90}, {}, {}, 3, ScaleLimit::kNone, "-> 3"}}},
        Scenario{"capped_at_max",
                 [](AutoscalerOptions& o) { o.max_replica_count = 4; },
                 {{k0, 3, {100, 100, 100}, {}, {}, 4, ScaleLimit::kMaxReplicas,
                   "cpu 100% > target 60% on 3 replicas -> 5; capped at max 4"}}},
        Scenario{"raised_to_min",
                 [](AutoscalerOptions& o) {
                   o.min_replica_count = 2;
                   o.scale_down_stabilization_window = k0;
                 },
                 {{k0, 2, {10, 10}, {}, {}, 2, ScaleLimit::kMinReplicas,
                   "-> 1; raised to min 2"}}},
        Scenario{"below_min_after_a_crash_is_restored_even_without_metrics",
                 [](AutoscalerOptions& o) { o.min_replica_count = 2; },
                 {{k0, 1, {}, {}, {}, 2, ScaleLimit::kMinReplicas, "raised to min 2"}}},
        Scenario{"host_capacity_refuses_growth",
                 nullptr,
                 {{k0, 2, {90, 90}, {}, 2, 2, ScaleLimit::kHostCapacity,
                   "wanted 3 but the host can hold only 2 replicas of this model: staying at 2"},
                  {k30s, 2, {100, 100}, {}, 3, 3, ScaleLimit::kHostCapacity,
                   "wanted 4 but the host can hold only 3 replicas of this model: capped at 3"},
                  {k30s, 3, {60, 60, 60}, {}, 3, 3, ScaleLimit::kNone}}},
        Scenario{"host_capacity_never_shrinks_running_replicas",
                 nullptr,
                 {{k0, 4, {60, 60, 60, 60}, {}, 1, 4, ScaleLimit::kNone}}},
        Scenario{"host_capacity_below_min",
                 [](AutoscalerOptions& o) { o.min_replica_count = 3; },
                 {{k0, 1, {}, {}, 2, 2, ScaleLimit::kHostCapacity,
                   "host can hold only 2 replicas of this model (below min 3): capped at 2"}}},
        Scenario{"no_metrics_holds",
                 nullptr,
                 {{k0, 3, {}, {}, {}, 3, ScaleLimit::kNoMetrics,
                   "no metrics from any replica in the last 60s; holding at 3"}}},
        Scenario{"partial_metrics_damp_scale_up",
                 nullptr,
                 // 2 of 3 report 90%: the silent one counts as 0%, average 60%: hold.
                 {{k0, 3, {90, 90, kMissing}, {}, {}, 3, ScaleLimit::kNone,
                   "cpu 90% on 2 of 3 replicas; counting 1 without metrics as 0% cancels the "
                   "change (60%): holding at 3"},
                  // 2 of 3 at 100%: (200 + 0) / 3 = 66.7% -> ceil(3 * 1.11) = 4.
                  {k30s, 3, {100, 100, kMissing}, {}, {}, 4, ScaleLimit::kNone,
                   "cpu 67% > target 60% on 3 replicas -> 4 (1 of 3 replicas without metrics "
                   "counted as 0%)"}}},
        Scenario{"partial_metrics_damp_scale_down",
                 [](AutoscalerOptions& o) { o.scale_down_stabilization_window = k0; },
                 // 2 of 3 at 20%, the silent one counts as on target: (40 + 60) / 3 -> 2, not 1.
                 {{k0, 3, {20, 20, kMissing}, {}, {}, 2, ScaleLimit::kNone,
                   "counted as 60%"}}},
        Scenario{"zero_load_shrinks_to_min_after_the_window",
                 [](AutoscalerOptions& o) { o.target_in_flight_per_replica = 8; },
                 {{k0, 3, {60, 60, 60}, {8, 8, 8}, {}, 3},
                  {k60s, -1, {0, 0, 0}, {0, 0, 0}, {}, 3, ScaleLimit::kStabilization},
                  {absl::Seconds(239), -1, {0, 0, 0}, {0, 0, 0}, {}, 3, ScaleLimit::kStabilization},
                  {absl::Seconds(1), -1, {0, 0, 0}, {0, 0, 0}, {}, 1, ScaleLimit::kMinReplicas,
                   "raised to min 1"},
                  {k60s, -1, {0}, {0}, {}, 1, ScaleLimit::kMinReplicas}}},
        Scenario{"fresh_policy_does_not_shrink_at_once",
                 nullptr,
                 {{k0, 5, {0, 0, 0, 0, 0}, {}, {}, 5, ScaleLimit::kStabilization,
                   "held by 300s"}}},
        Scenario{"in_flight_signal",
                 [](AutoscalerOptions& o) {
                   o.target_cpu_utilization_percent = 0;
                   o.target_in_flight_per_replica = 8;
                 },
                 {{k0, 2, {}, {20, 12}, {}, 4, ScaleLimit::kNone,
                   "in-flight 16.0/replica > target 8.0/replica on 2 replicas -> 4"}}},
        Scenario{"whichever_signal_needs_more_wins",
                 [](AutoscalerOptions& o) { o.target_in_flight_per_replica = 8; },
                 {{k0, 2, {70, 70}, {20, 12}, {}, 4, ScaleLimit::kNone,
                   "in-flight 16.0/replica > target 8.0/replica on 2 replicas -> 4; cpu 70% > "
                   "target 60% on 2 replicas -> 3"},
                  {k30s, 4, {100, 100, 100, 100}, {8, 8, 8, 8}, {}, 7, ScaleLimit::kNone,
                   "cpu 100% > target 60% on 4 replicas -> 7; in-flight 8.0/replica within"}}}),
    [](const ::testing::TestParamInfo<Scenario>& info) { return info.param.name; });

TEST(AutoscalerPolicyTest, QueuedRequestsCountAsLoad) {
  FakeClock clock;
  AutoscalerOptions o = DefaultTestOptions();
  o.target_cpu_utilization_percent = 0;
  o.target_in_flight_per_replica = 4;
  auto policy = *AutoscalerPolicy::Create(o, &clock);
  AutoscalerInput input{.current_replica_count = 1};
  input.samples.push_back(ReplicaMetrics{
      .replica_id = "r0", .time = clock.Now(), .in_flight_requests = 4, .queued_requests = 4});
  const AutoscalerDecision d = policy->Decide(input);
  EXPECT_EQ(d.desired_replica_count, 2) << d.reason;
  EXPECT_EQ(d.load_recommendation, 2);
  EXPECT_FALSE(d.cpu_recommendation.has_value());
}

TEST(AutoscalerPolicyTest, StaleAndFutureSamplesAreIgnoredAndNewestWins) {
  FakeClock clock;
  auto policy = *AutoscalerPolicy::Create(DefaultTestOptions(), &clock);
  const absl::Time now = clock.Now();
  AutoscalerInput input{.current_replica_count = 2};
  // Stale (61s) and future samples say 100%; the fresh ones say r0 60% (newest of two) and r1 60%.
  input.samples = {
      {.replica_id = "r0", .time = now - absl::Seconds(61), .cpu_utilization_percent = 100},
      {.replica_id = "r0", .time = now + absl::Seconds(5), .cpu_utilization_percent = 100},
      {.replica_id = "r0", .time = now - absl::Seconds(10), .cpu_utilization_percent = 100},
      {.replica_id = "r0", .time = now - absl::Seconds(1), .cpu_utilization_percent = 60},
      {.replica_id = "r1", .time = now, .cpu_utilization_percent = 60},
  };
  const AutoscalerDecision d = policy->Decide(input);
  EXPECT_EQ(d.desired_replica_count, 2) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("cpu 60% within"));

  AutoscalerInput only_stale{.current_replica_count = 2};
  only_stale.samples = {
      {.replica_id = "r0", .time = now - absl::Minutes(5), .cpu_utilization_percent = 100}};
  const AutoscalerDecision held = policy->Decide(only_stale);
  EXPECT_EQ(held.limited_by, ScaleLimit::kNoMetrics);
  EXPECT_EQ(held.desired_replica_count, 2);
}

TEST(AutoscalerPolicyTest, NegativeOrMissingValuesAreNotMetrics) {
  FakeClock clock;
  auto policy = *AutoscalerPolicy::Create(DefaultTestOptions(), &clock);
  AutoscalerInput input{.current_replica_count = 2};
  input.samples = {{.replica_id = "r0", .time = clock.Now(), .cpu_utilization_percent = -5},
                   {.replica_id = "r1", .time = clock.Now()}};
  EXPECT_EQ(policy->Decide(input).limited_by, ScaleLimit::kNoMetrics);
}

TEST(AutoscalerPolicyTest, UpdateOptionsKeepsHistory) {
  FakeClock clock;
  auto policy = *AutoscalerPolicy::Create(DefaultTestOptions(), &clock);
  auto decide = [&](int current, double cpu) {
    AutoscalerInput input{.current_replica_count = current};
    for (int r = 0; r < current; ++r) {
      input.samples.push_back({.replica_id = "r" + std::to_string(r),
                               .time = clock.Now(),
                               .cpu_utilization_percent = cpu});
    }
    return policy->Decide(input);
  };
  EXPECT_EQ(decide(4, 60).desired_replica_count, 4);
  AutoscalerOptions o = DefaultTestOptions();
  o.max_replica_count = 6;
  ASSERT_TRUE(policy->UpdateOptions(o).ok());
  EXPECT_EQ(policy->options().max_replica_count, 6);
  clock.Advance(absl::Seconds(10));
  // The earlier recommendation of 4 still holds the scale-down.
  EXPECT_EQ(decide(4, 15).desired_replica_count, 4);
  o.min_replica_count = 0;
  EXPECT_EQ(policy->UpdateOptions(o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(policy->options().min_replica_count, 1);  // unchanged
}

TEST(AutoscalerPolicyTest, CreateNeedsAClock) {
  EXPECT_EQ(AutoscalerPolicy::Create(DefaultTestOptions(), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

struct OptionsCase {
  std::string name;
  std::function<void(AutoscalerOptions&)> mutate;
  std::string message;  // empty: valid
};

class AutoscalerOptionsTest : public ::testing::TestWithParam<OptionsCase> {};

TEST_P(AutoscalerOptionsTest, Validate) {
  AutoscalerOptions o;
  GetParam().mutate(o);
  absl::Status status = ValidateAutoscalerOptions(o);
  if (GetParam().message.empty()) {
    EXPECT_TRUE(status.ok()) << status;
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(GetParam().message));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AutoscalerOptionsTest,
    ::testing::Values(
        OptionsCase{"defaults", [](AutoscalerOptions&) {}, ""},
        OptionsCase{"min_zero", [](AutoscalerOptions& o) { o.min_replica_count = 0; },
                    "min replica count must be at least 1, got 0"},
        OptionsCase{"max_below_min",
                    [](AutoscalerOptions& o) {
                      o.min_replica_count = 3;
                      o.max_replica_count = 2;
                    },
                    "max replica count (2) must be at least min replica count (3)"},
        OptionsCase{"cpu_over_100",
                    [](AutoscalerOptions& o) { o.target_cpu_utilization_percent = 150; },
                    "at most 100 percent"},
        OptionsCase{"no_signal",
                    [](AutoscalerOptions& o) {
                      o.target_cpu_utilization_percent = 0;
                      o.target_in_flight_per_replica = 0;
                    },
                    "needs a CPU utilization target or an in-flight requests target"},
        OptionsCase{"in_flight_only",
                    [](AutoscalerOptions& o) { o.target_cpu_utilization_percent = 0; }, ""},
        OptionsCase{"tolerance_one", [](AutoscalerOptions& o) { o.tolerance = 1.0; },
                    "tolerance must be in [0, 1)"},
        OptionsCase{
            "negative_window",
            [](AutoscalerOptions& o) { o.scale_down_stabilization_window = absl::Seconds(-1); },
            "must not be negative"},
        OptionsCase{"zero_sample_age",
                    [](AutoscalerOptions& o) { o.max_sample_age = absl::ZeroDuration(); },
                    "max sample age must be positive"}),
    [](const ::testing::TestParamInfo<OptionsCase>& info) { return info.param.name; });

}  // namespace
}  // namespace tessera
