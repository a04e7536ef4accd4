// Tests of the shared fakes in tests/testing/ (FakeClock, FakeRandom) that the policies use.
#include "testing/fake_clock.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "testing/fake_random.h"

namespace tessera::testing {
namespace {

TEST(FakeClockTest, AdvanceOnSleepMovesTimeAtOnce) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  EXPECT_EQ(start, FakeClock::DefaultStart());
  clock.SleepFor(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(5));
  clock.SleepFor(-absl::Seconds(1));  // ignored
  clock.Advance(absl::Milliseconds(1));
  clock.Advance(-absl::Seconds(10));  // never backwards
  EXPECT_EQ(clock.Now(), start + absl::Seconds(5) + absl::Milliseconds(1));
  clock.SetTime(start);  // earlier: ignored
  EXPECT_EQ(clock.Now(), start + absl::Seconds(5) + absl::Milliseconds(1));
  clock.SetTime(start + absl::Hours(1));
  EXPECT_EQ(clock.Now(), start + absl::Hours(1));
}

TEST(FakeClockTest, BlockUntilAdvancedWakesAtTheRightTime) {
  FakeClock clock(FakeClock::SleepMode::kBlockUntilAdvanced);
  const absl::Time start = clock.Now();
  absl::Notification woke;
  std::thread sleeper([&] {
    clock.SleepFor(absl::Seconds(10));
    woke.Notify();
  });
  clock.WaitForSleepers(1);
  EXPECT_EQ(clock.sleepers(), 1);
  clock.Advance(absl::Seconds(9));
  EXPECT_FALSE(woke.WaitForNotificationWithTimeout(absl::Milliseconds(20)));  // not yet
  clock.Advance(absl::Seconds(1));
  woke.WaitForNotification();
  sleeper.join();
  EXPECT_EQ(clock.sleepers(), 0);
  EXPECT_EQ(clock.Now(), start + absl::Seconds(10));  // sleeping does not move time itself
}

TEST(FakeRandomTest, CyclesThroughItsScriptAndCounts) {
  FakeRandom random({0.1, 0.7});
  EXPECT_EQ(random.Uniform(), 0.1);
  EXPECT_EQ(random.Uniform(), 0.7);
  EXPECT_EQ(random.Uniform(), 0.1);
  EXPECT_EQ(random.draws(), 3);
}

}  // namespace
}  // namespace tessera::testing
