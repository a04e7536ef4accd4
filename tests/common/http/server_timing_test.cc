#include "common/http/server_timing.h"

#include "gtest/gtest.h"

namespace tessera::http {
namespace {

TEST(ServerTimingTest, RoundTrips) {
  const std::string header = FormatServerTiming(
      {{"queue", absl::Microseconds(1250)}, {"inference", absl::Milliseconds(20)}});
  EXPECT_EQ(header, "queue;dur=1.250, inference;dur=20.000");
  const auto parsed = ParseServerTiming(header);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed.at("queue"), absl::Microseconds(1250));
  EXPECT_EQ(parsed.at("inference"), absl::Milliseconds(20));
}

TEST(ServerTimingTest, SkipsWhatIsNotAFiniteNonNegativeDuration) {
  const auto parsed = ParseServerTiming(
      "a;desc=\"x\";dur=2, b;dur=-1, c;dur=nan, d;dur=1e400, e;dur=3x, ;dur=1, f, g;dur=4, "
      "g;dur=9");
  EXPECT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed.at("a"), absl::Milliseconds(2));
  EXPECT_EQ(parsed.at("g"), absl::Milliseconds(4));
  EXPECT_TRUE(ParseServerTiming("").empty());
}

}  // namespace
}  // namespace tessera::http
