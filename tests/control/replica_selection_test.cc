#include "control/replica_selection.h"

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

struct LeastLoadedCase {
  std::vector<int64_t> in_flight;
  double u;
  int want;
};

TEST(PickLeastLoadedTest, Table) {
  const std::vector<LeastLoadedCase> cases = {
      {{3, 1, 2}, 0.0, 1},    {{3, 1, 2}, 0.99, 1},  // a single minimum ignores u
      {{0, 0, 0}, 0.0, 0},                           // ties: u picks among them in index order
      {{0, 0, 0}, 0.34, 1},   {{0, 0, 0}, 0.67, 2},
      {{0, 0, 0}, 0.9999, 2}, {{5, 2, 9, 2}, 0.49, 1},
      {{5, 2, 9, 2}, 0.5, 3}, {{-1, 4, 7}, 0.0, 1},  // negative: not eligible
      {{0, -1, 0}, 0.6, 2},   {{-1, -1}, 0.5, -1},
      {{}, 0.5, -1},          {{1, 1}, 1.0, 1},  // u clamped
      {{1, 1}, -3.0, 0},      {{1, 1}, std::nan(""), 0},
  };
  for (const LeastLoadedCase& c : cases) {
    EXPECT_EQ(PickLeastLoaded(c.in_flight, c.u), c.want)
        << "size " << c.in_flight.size() << " u=" << c.u;
  }
}

TEST(ReplicaLeaseTest, CountsWhileHeld) {
  auto load = std::make_shared<ReplicaLoad>();
  {
    auto a = ReplicaLease::TryAcquire(load);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(load->in_flight(), 1);
    auto b = ReplicaLease::TryAcquire(load);
    EXPECT_EQ(load->in_flight(), 2);
    ReplicaLease moved = std::move(*b);  // moving does not double-count or double-release
    EXPECT_EQ(load->in_flight(), 2);
    b.reset();
    EXPECT_EQ(load->in_flight(), 2);
    moved.Reset();
    EXPECT_FALSE(moved.held());
    EXPECT_EQ(load->in_flight(), 1);
    moved.Reset();  // idempotent
    EXPECT_EQ(load->in_flight(), 1);
  }
  EXPECT_EQ(load->in_flight(), 0);
}

TEST(ReplicaLeaseTest, MoveAssignReleasesThePreviousSlot) {
  auto x = std::make_shared<ReplicaLoad>();
  auto y = std::make_shared<ReplicaLoad>();
  ReplicaLease a = *ReplicaLease::TryAcquire(x);
  ReplicaLease b = *ReplicaLease::TryAcquire(y);
  a = std::move(b);
  EXPECT_EQ(x->in_flight(), 0);
  EXPECT_EQ(y->in_flight(), 1);
}

TEST(ReplicaLeaseTest, NullLoadAndDrainingRefuse) {
  EXPECT_FALSE(ReplicaLease::TryAcquire(nullptr).has_value());
  auto load = std::make_shared<ReplicaLoad>();
  load->StartDrain();
  EXPECT_TRUE(load->draining());
  EXPECT_FALSE(ReplicaLease::TryAcquire(load).has_value());
  EXPECT_EQ(load->in_flight(), 0);
}

TEST(ReplicaLoadTest, AwaitDrainedIdleReturnsAtOnce) {
  auto load = std::make_shared<ReplicaLoad>();
  EXPECT_TRUE(load->AwaitDrained(absl::ZeroDuration()));
}

TEST(ReplicaLoadTest, AwaitDrainedTimesOutWhileALeaseIsHeld) {
  auto load = std::make_shared<ReplicaLoad>();
  auto lease = ReplicaLease::TryAcquire(load);
  EXPECT_FALSE(load->AwaitDrained(absl::Milliseconds(20)));
  lease.reset();
  EXPECT_TRUE(load->AwaitDrained(absl::ZeroDuration()));
}

TEST(ReplicaLoadTest, AwaitDrainedWakesWhenTheLastLeaseEnds) {
  auto load = std::make_shared<ReplicaLoad>();
  auto lease = ReplicaLease::TryAcquire(load);
  absl::Notification drained;
  std::thread drainer([&] {
    EXPECT_TRUE(load->AwaitDrained(absl::Seconds(30)));  // generous: wakes on release, not timeout
    drained.Notify();
  });
  // Wait until the drainer has started draining (so no new lease can be taken), then release.
  while (!load->draining()) std::this_thread::yield();
  EXPECT_FALSE(ReplicaLease::TryAcquire(load).has_value());
  EXPECT_FALSE(drained.HasBeenNotified());
  lease.reset();
  drained.WaitForNotification();
  drainer.join();
  EXPECT_EQ(load->in_flight(), 0);
}

// Many threads take and drop leases while another drains: the drain must return (never hang), and
// once it has, in-flight is 0 and stays 0 (no lease slips in after drain).
class DrainRaceTest : public ::testing::TestWithParam<int> {};

TEST_P(DrainRaceTest, NoLeaseOutlivesTheDrain) {
  const int threads = GetParam();
  for (int round = 0; round < 10; ++round) {
    auto load = std::make_shared<ReplicaLoad>();
    std::atomic<bool> drained{false};
    std::atomic<int64_t> acquired_after_drain{0};
    std::atomic<int64_t> acquired{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (;;) {  // until the drain refuses us
          auto lease = ReplicaLease::TryAcquire(load);
          if (!lease.has_value()) break;
          acquired.fetch_add(1);
          if (drained.load()) acquired_after_drain.fetch_add(1);
        }
      });
    }
    while (acquired.load() < threads) std::this_thread::yield();
    ASSERT_TRUE(load->AwaitDrained(absl::Seconds(30)));
    drained.store(true);
    EXPECT_EQ(load->in_flight(), 0);
    for (auto& w : workers) w.join();
    EXPECT_EQ(acquired_after_drain.load(), 0);
    EXPECT_EQ(load->in_flight(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, DrainRaceTest, ::testing::Values(1, 2, 4, 8));

}  // namespace
}  // namespace tessera
