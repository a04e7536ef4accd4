// Token buckets on a fake clock: burst, refill, the refusal's Retry-After and ErrorInfo, limit
// changes, independence of targets, and memory bounded by pruning refilled buckets.
#include "auth/rate_limiter.h"

#include "common/http/google_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace tessera::auth {
namespace {

using testing::FakeClock;
using ::testing::HasSubstr;

TEST(RateLimiterTest, BurstThenTheRate) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  const registry::RateLimit limit{.requests_per_second = 20, .burst = 5};
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "k", limit).ok()) << i;
  absl::Status refused = limiter.Admit(LimitKind::kKey, "k", limit);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("rate limit of key k exceeded"));
  EXPECT_EQ(http::RetryAfterSeconds(refused), 1);
  const std::optional<http::ErrorInfo> info = http::GetErrorInfo(refused);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason, "RATE_LIMIT_EXCEEDED");
  EXPECT_EQ(info->metadata.at("limit"), "key");
  EXPECT_EQ(info->metadata.at("requestsPerSecond"), "20");
  // 50 ms later one token is back.
  clock.Advance(absl::Milliseconds(50));
  EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "k", limit).ok());
  EXPECT_FALSE(limiter.Admit(LimitKind::kKey, "k", limit).ok());
  // Over 10 s of steady load, 20/s (plus the burst) get through.
  int admitted = 0;
  for (int ms = 0; ms < 10000; ms += 5) {
    clock.Advance(absl::Milliseconds(5));
    admitted += limiter.Admit(LimitKind::kKey, "k", limit).ok() ? 1 : 0;
  }
  EXPECT_NEAR(admitted, 200, 2);
}

TEST(RateLimiterTest, SlowRatesSayHowLongToWait) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  const registry::RateLimit limit{.requests_per_second = 0.1, .burst = 1};
  EXPECT_TRUE(limiter.Admit(LimitKind::kEndpoint, "e", limit).ok());
  EXPECT_EQ(http::RetryAfterSeconds(limiter.Admit(LimitKind::kEndpoint, "e", limit)), 10);
  clock.Advance(absl::Seconds(4));
  EXPECT_EQ(http::RetryAfterSeconds(limiter.Admit(LimitKind::kEndpoint, "e", limit)), 6);
}

TEST(RateLimiterTest, TargetsAreIndependentAndChangedLimitsApplyAtOnce) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  const registry::RateLimit one{.requests_per_second = 1, .burst = 1};
  EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "a", one).ok());
  EXPECT_FALSE(limiter.Admit(LimitKind::kKey, "a", one).ok());
  EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "b", one).ok());  // another key is unaffected
  clock.Advance(absl::Seconds(1));
  const registry::RateLimit more{.requests_per_second = 100, .burst = 100};
  EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "a", more).ok());
  clock.Advance(absl::Seconds(1));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "a", more).ok()) << i;
  // A lower burst caps the tokens held.
  clock.Advance(absl::Seconds(10));
  EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "a", one).ok());
  EXPECT_FALSE(limiter.Admit(LimitKind::kKey, "a", one).ok());
  limiter.Forget(LimitKind::kKey, "a");
  EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "a", one).ok());
}

TEST(RateLimiterTest, AvailableTellsWithoutTaking) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  const registry::RateLimit limit{.requests_per_second = 1, .burst = 1};
  EXPECT_TRUE(limiter.Available(LimitKind::kEndpoint, "e", limit));  // a new bucket is full
  EXPECT_TRUE(limiter.Available(LimitKind::kEndpoint, "e", limit));
  EXPECT_TRUE(limiter.Admit(LimitKind::kEndpoint, "e", limit).ok());
  EXPECT_FALSE(limiter.Available(LimitKind::kEndpoint, "e", limit));
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.Available(LimitKind::kEndpoint, "e", limit));
  EXPECT_TRUE(limiter.Admit(LimitKind::kEndpoint, "e", limit).ok());
}

TEST(RateLimiterTest, AdmitAllTakesFromEveryBucketOrFromNone) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  const LimitedTarget own{
      .target = "child", .limit = {.requests_per_second = 1, .burst = 5}, .kind = LimitKind::kKey};
  const LimitedTarget shared{.target = "parent",
                             .limit = {.requests_per_second = 1, .burst = 2},
                             .kind = LimitKind::kKeysMadeUnder};
  const LimitedTarget both[] = {own, shared};
  EXPECT_TRUE(limiter.AdmitAll(both).ok());
  EXPECT_TRUE(limiter.AdmitAll(both).ok());
  absl::Status refused = limiter.AdmitAll(both);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("rate limit of the keys made under key parent exceeded"));
  EXPECT_EQ(http::GetErrorInfo(refused)->metadata.at("limit"), "keysMadeUnderKey");
  // The parent's own requests draw on another bucket, untouched by its children's.
  EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "parent", shared.limit).ok());
  // The refusal took nothing from the child's own bucket: 3 of its 5 tokens are left.
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "child", own.limit).ok()) << i;
  EXPECT_FALSE(limiter.Admit(LimitKind::kKey, "child", own.limit).ok());
}

TEST(RateLimiterTest, PruningNeverDropsABucketInUse) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  const registry::RateLimit fast{.requests_per_second = 1000, .burst = 1};
  // Fill the map to one short of its pruning point (1,024) with buckets that have refilled a
  // second later; then the pair's first bucket is one of them, and admitting the pair prunes.
  for (int i = 0; i < 1022; ++i) {
    ASSERT_TRUE(limiter.Admit(LimitKind::kKey, "t" + std::to_string(i), fast).ok());
  }
  clock.Advance(absl::Seconds(1));
  const LimitedTarget pair[] = {{.target = "t1", .limit = fast, .kind = LimitKind::kKey},
                                {.target = "new", .limit = fast, .kind = LimitKind::kKey}};
  EXPECT_TRUE(limiter.AdmitAll(pair).ok());
  EXPECT_EQ(limiter.buckets(), 2u);  // pruned: only the pair's buckets are left
  // Both buckets count the request: each has spent its one token.
  EXPECT_FALSE(limiter.Admit(LimitKind::kKey, "t1", fast).ok());
  EXPECT_FALSE(limiter.Admit(LimitKind::kKey, "new", fast).ok());
}

TEST(RateLimiterTest, CheckAnswersAsAdmitAllWithoutTaking) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  const LimitedTarget one[] = {
      {.target = "k", .limit = {.requests_per_second = 1, .burst = 1}, .kind = LimitKind::kKey}};
  EXPECT_TRUE(limiter.Check(one).ok());
  EXPECT_TRUE(limiter.Check(one).ok());
  EXPECT_TRUE(limiter.AdmitAll(one).ok());
  const absl::Status refused = limiter.Check(one);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(http::RetryAfterSeconds(refused), 1);
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.Check(one).ok());
}

// A key id and an endpoint name that are the same string are still two buckets.
TEST(RateLimiterTest, KindsHaveTheirOwnBuckets) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  const registry::RateLimit one{.requests_per_second = 1, .burst = 1};
  EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "x", one).ok());
  EXPECT_TRUE(limiter.Admit(LimitKind::kKeysMadeUnder, "x", one).ok());
  EXPECT_TRUE(limiter.Admit(LimitKind::kEndpoint, "x", one).ok());
  EXPECT_FALSE(limiter.Admit(LimitKind::kKey, "x", one).ok());
  EXPECT_EQ(limiter.buckets(), 3u);
}

TEST(RateLimiterTest, RefilledBucketsArePruned) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  const registry::RateLimit limit{.requests_per_second = 1000, .burst = 2};
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(limiter.Admit(LimitKind::kKey, "t" + std::to_string(i), limit).ok());
    clock.Advance(absl::Milliseconds(1));
  }
  EXPECT_LT(limiter.buckets(), 2100u);
}

TEST(RateLimiterTest, CountsEveryRefusalByLimit) {
  FakeClock clock;
  metrics::MetricsRegistry registry;
  metrics::CounterFamily* refusals = *registry.AddCounter("refused_total", "R.", {"limit"});
  RateLimiter limiter(&clock, refusals);
  const registry::RateLimit one{.requests_per_second = 1, .burst = 1};
  EXPECT_TRUE(limiter.Admit(LimitKind::kKey, "k", one).ok());
  EXPECT_FALSE(limiter.Admit(LimitKind::kKey, "k", one).ok());
  const LimitedTarget key{.target = "k", .limit = one, .kind = LimitKind::kKey};
  EXPECT_FALSE(limiter.Check(std::span<const LimitedTarget>(&key, 1)).ok());
  EXPECT_TRUE(limiter.Admit(LimitKind::kEndpoint, "e", one).ok());
  EXPECT_FALSE(limiter.Admit(LimitKind::kEndpoint, "e", one).ok());
  EXPECT_FALSE(limiter.Available(LimitKind::kEndpoint, "e", one));  // asking is not refusing
  EXPECT_EQ(refusals->With({"key"})->value(), 2);
  EXPECT_EQ(refusals->With({"endpoint"})->value(), 1);
}

}  // namespace
}  // namespace tessera::auth
