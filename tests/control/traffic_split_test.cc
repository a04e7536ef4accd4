#include "control/traffic_split.h"

#include <cmath>
#include <map>
#include <vector>

#include "control/random_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::testing::HasSubstr;

struct ValidateCase {
  std::string name;
  TrafficSplit split;
  std::set<std::string> deployed;
  absl::StatusCode code;
  std::string message;  // substring of the error
};

class ValidateTrafficSplitTest : public ::testing::TestWithParam<ValidateCase> {};

TEST_P(ValidateTrafficSplitTest, Table) {
  const ValidateCase& c = GetParam();
  absl::Status status = ValidateTrafficSplit(c.split, c.deployed);
  EXPECT_EQ(status.code(), c.code) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidateTrafficSplitTest,
    ::testing::Values(
        ValidateCase{"single_100", {{"1", 100}}, {"1"}, absl::StatusCode::kOk, ""},
        ValidateCase{"ninety_ten", {{"1", 90}, {"2", 10}}, {"1", "2"}, absl::StatusCode::kOk, ""},
        ValidateCase{
            "zero_entry_allowed", {{"1", 100}, {"2", 0}}, {"1", "2"}, absl::StatusCode::kOk, ""},
        ValidateCase{
            "deployed_model_left_out", {{"1", 100}}, {"1", "2"}, absl::StatusCode::kOk, ""},
        ValidateCase{"empty_no_models", {}, {}, absl::StatusCode::kOk, ""},
        // Vertex: "the map must be empty if the Endpoint is to not accept any traffic".
        ValidateCase{"empty_with_models_stops_traffic", {}, {"1"}, absl::StatusCode::kOk, ""},
        ValidateCase{"sum_below_100",
                     {{"1", 50}, {"2", 40}},
                     {"1", "2"},
                     absl::StatusCode::kInvalidArgument,
                     "must add up to 100, got 90 ({\"1\": 50, \"2\": 40})"},
        ValidateCase{"sum_above_100",
                     {{"1", 60}, {"2", 60}},
                     {"1", "2"},
                     absl::StatusCode::kInvalidArgument,
                     "got 120"},
        ValidateCase{"all_zero", {{"1", 0}}, {"1"}, absl::StatusCode::kInvalidArgument, "got 0"},
        ValidateCase{"negative",
                     {{"1", -10}, {"2", 110}},
                     {"1", "2"},
                     absl::StatusCode::kInvalidArgument,
                     "percentage for deployed model \"1\" is -10; each percentage must be between "
                     "0 and 100"},
        ValidateCase{"over_100", {{"1", 101}}, {"1"}, absl::StatusCode::kInvalidArgument, "is 101"},
        ValidateCase{"unknown_id",
                     {{"1", 50}, {"9", 50}},
                     {"1", "2"},
                     absl::StatusCode::kInvalidArgument,
                     "names deployed model \"9\", which is not deployed on this endpoint "
                     "(deployed models: \"1\", \"2\")"},
        ValidateCase{"unknown_id_no_models",
                     {{"9", 100}},
                     {},
                     absl::StatusCode::kInvalidArgument,
                     "(deployed models: none)"},
        ValidateCase{"empty_id",
                     {{"", 100}},
                     {"1"},
                     absl::StatusCode::kInvalidArgument,
                     "empty deployed model id"}),
    [](const ::testing::TestParamInfo<ValidateCase>& info) { return info.param.name; });

struct WeightedCase {
  std::vector<int> weights;
  double u;
  int want;
};

TEST(PickWeightedIndexTest, Table) {
  const std::vector<WeightedCase> cases = {
      {{90, 10}, 0.0, 0},        {{90, 10}, 0.5, 0},
      {{90, 10}, 0.8999, 0},     {{90, 10}, 0.9, 1},
      {{90, 10}, 0.9999999, 1},  {{0, 100}, 0.0, 1},  // weight 0 never chosen
      {{100, 0}, 0.9999, 0},                          // ... at either end
      {{0, 50, 0, 50}, 0.49, 1}, {{0, 50, 0, 50}, 0.5, 3},
      {{34, 33, 33}, 0.34, 1},   {{34, 33, 33}, 0.67, 2},
      {{90, 10}, -1.0, 0},  // clamped
      {{90, 10}, 1.0, 1},   // clamped to the top
      {{90, 10}, 7.0, 1},        {{90, 10}, std::nan(""), 0},
      {{0, 0}, 0.5, -1},         {{}, 0.5, -1},
      {{-5, 10}, 0.0, 1},  // negative weights count as 0
  };
  for (const WeightedCase& c : cases) {
    EXPECT_EQ(PickWeightedIndex(c.weights, c.u), c.want)
        << "weights size " << c.weights.size() << " u=" << c.u;
  }
}

TEST(PickFromTrafficSplitTest, DeterministicInKeyOrder) {
  const TrafficSplit split = {{"b", 10}, {"a", 90}};  // map order: a, b
  EXPECT_EQ(*PickFromTrafficSplit(split, 0.0), "a");
  EXPECT_EQ(*PickFromTrafficSplit(split, 0.89), "a");
  EXPECT_EQ(*PickFromTrafficSplit(split, 0.9), "b");
  EXPECT_EQ(*PickFromTrafficSplit(split, 0.99), "b");
}

TEST(PickFromTrafficSplitTest, NoTrafficIsFailedPrecondition) {
  EXPECT_EQ(PickFromTrafficSplit({}, 0.3).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PickFromTrafficSplit({{"a", 0}}, 0.3).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PickFromTrafficSplit({{"a", -1}, {"b", 100}}, 0.3).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// 100k seeded draws land within a tight tolerance of the split: binomial standard deviation for
// p=0.1, n=100k is ~95, so +-600 (over 6 sigma) never fails by chance, yet catches an off-by-one
// bucket (1000 off) or a biased draw.
TEST(PickFromTrafficSplitTest, StatisticalNinetyTen) {
  SeededRandom random(12345);
  const TrafficSplit split = {{"v1", 90}, {"v2", 10}};
  std::map<std::string, int> counts;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) ++counts[*PickFromTrafficSplit(split, random.Uniform())];
  EXPECT_NEAR(counts["v2"], 10000, 600);
  EXPECT_EQ(counts["v1"] + counts["v2"], kDraws);
}

TEST(PickFromTrafficSplitTest, StatisticalThreeWay) {
  SeededRandom random(99);
  const TrafficSplit split = {{"a", 50}, {"b", 30}, {"c", 20}, {"d", 0}};
  std::map<std::string, int> counts;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) ++counts[*PickFromTrafficSplit(split, random.Uniform())];
  EXPECT_NEAR(counts["a"], 50000, 1000);
  EXPECT_NEAR(counts["b"], 30000, 1000);
  EXPECT_NEAR(counts["c"], 20000, 1000);
  EXPECT_EQ(counts.count("d"), 0u);
}

TEST(SeededRandomTest, RangeAndDeterminism) {
  SeededRandom a(7), b(7);
  for (int i = 0; i < 1000; ++i) {
    const double x = a.Uniform();
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
    EXPECT_EQ(x, b.Uniform());
  }
}

TEST(TrafficSplitToStringTest, Formats) {
  EXPECT_EQ(TrafficSplitToString({}), "{}");
  EXPECT_EQ(TrafficSplitToString({{"2", 10}, {"1", 90}}), "{\"1\": 90, \"2\": 10}");
}

}  // namespace
}  // namespace tessera
