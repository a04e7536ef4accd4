#include "runtime/batcher.h"

#include <atomic>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/fake_clock.h"

namespace tessera {
namespace {

using ::tessera::testing::FakeClock;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

using IntBatcher = DynamicBatcher<int, int>;
using Results = IntBatcher::Results;

constexpr int64_t kHourUs = int64_t{3600} * 1000 * 1000;  // a delay no test reaches

// Records every batch; doubles each input; a negative input is a per-instance error. The first
// call can be held at a gate so tests can queue work behind a batch in progress.
class Processor {
 public:
  explicit Processor(bool gate_first_batch = false) : gated_(gate_first_batch) {}

  Results operator()(std::span<const int* const> batch) {
    {
      absl::MutexLock lock(&mu_);
      std::vector<int> seen;
      for (const int* x : batch) seen.push_back(*x);
      batches_.push_back(seen);
    }
    const int active = active_.fetch_add(1) + 1;
    int observed = max_active_.load();
    while (active > observed && !max_active_.compare_exchange_weak(observed, active)) {
    }
    if (gated_.exchange(false)) {
      entered_.Notify();
      release_.WaitForNotification();
    }
    Results out;
    for (const int* x : batch) {
      if (*x < 0) {
        out.push_back(absl::InvalidArgumentError("negative input " + std::to_string(*x)));
      } else {
        out.push_back(*x * 2);
      }
    }
    active_.fetch_sub(1);
    return out;
  }

  void WaitUntilGated() { entered_.WaitForNotification(); }
  void Release() { release_.Notify(); }
  std::vector<std::vector<int>> batches() const {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  int max_active() const { return max_active_.load(); }

 private:
  std::atomic<bool> gated_;
  absl::Notification entered_, release_;
  std::atomic<int> active_{0}, max_active_{0};
  mutable absl::Mutex mu_;
  std::vector<std::vector<int>> batches_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<IntBatcher> MakeBatcher(const BatcherOptions& options, Processor* processor) {
  auto batcher = IntBatcher::Create(
      options, [processor](std::span<const int* const> batch) { return (*processor)(batch); });
  EXPECT_TRUE(batcher.ok()) << batcher.status();
  return std::move(*batcher);
}

// Collects a request's outcome from its DoneFn.
struct Outcome {
  absl::Notification done;
  absl::StatusOr<Results> results;
  IntBatcher::DoneFn Callback() {
    return [this](absl::StatusOr<Results> r) {
      results = std::move(r);
      done.Notify();
    };
  }
  std::vector<int> Values() {
    done.WaitForNotification();
    std::vector<int> v;
    EXPECT_TRUE(results.ok()) << results.status();
    if (results.ok()) {
      for (const auto& r : *results) v.push_back(r.ok() ? *r : -1);
    }
    return v;
  }
};

TEST(BatcherOptionsTest, Validate) {
  struct Case {
    BatcherOptions options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{.max_batch_size = 0}, "max_batch_size must be at least 1, got 0"},
      {{.max_batch_size = 4, .max_queue_delay_us = -1}, "max_queue_delay_us must not be negative"},
      {{.max_batch_size = 8, .max_queue_size = 4},
       "max_queue_size (4) must be at least max_batch_size (8)"},
      {{.num_batch_threads = 0}, "num_batch_threads must be between 1 and 64, got 0"},
      {{.num_batch_threads = 65}, "num_batch_threads must be between 1 and 64"},
  };
  for (const Case& c : cases) {
    absl::Status status = ValidateBatcherOptions(c.options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
    EXPECT_EQ(IntBatcher::Create(c.options, [](auto) { return Results{}; }).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(ValidateBatcherOptions(BatcherOptions{}).ok());
  EXPECT_EQ(IntBatcher::Create(BatcherOptions{}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BatcherTest, ResultsComeBackInOrderWithPerInstanceErrors) {
  Processor processor;
  auto batcher = MakeBatcher({.max_batch_size = 8}, &processor);
  auto results = batcher->SubmitAndWait({1, -2, 3});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ(*(*results)[0], 2);
  EXPECT_EQ((*results)[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string((*results)[1].status().message()), HasSubstr("negative input -2"));
  EXPECT_EQ(*(*results)[2], 6);
  const BatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.processed_instances, 3);
  EXPECT_EQ(stats.failed_instances, 1);
  EXPECT_EQ(stats.completed_requests, 1);
}

// thread_init runs on the batch thread, once, before any batch (the replica loads its model
// there so every forward pass runs on the thread that created the kernels).
TEST(BatcherTest, ThreadInitRunsOnTheBatchThreadBeforeAnyBatch) {
  std::thread::id init_thread, batch_thread;
  std::atomic<int> inits{0};
  BatcherOptions options{.max_batch_size = 4};
  options.thread_init = [&] {
    init_thread = std::this_thread::get_id();
    ++inits;
  };
  auto batcher = IntBatcher::Create(options, [&](std::span<const int* const> batch) {
    EXPECT_EQ(inits.load(), 1) << "a batch ran before thread_init";
    batch_thread = std::this_thread::get_id();
    return Results(batch.size(), 0);
  });
  ASSERT_TRUE(batcher.ok()) << batcher.status();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*batcher)->SubmitAndWait({i}).ok());
  EXPECT_EQ(inits.load(), 1);
  EXPECT_EQ(init_thread, batch_thread);
  EXPECT_NE(init_thread, std::this_thread::get_id());
}

TEST(BatcherTest, FullBatchFormsWithoutWaitingForTheDelay) {
  Processor processor;
  auto batcher = MakeBatcher({.max_batch_size = 4, .max_queue_delay_us = kHourUs}, &processor);
  Outcome a, b, c, d;
  ASSERT_TRUE(batcher->Submit({1}, {}, a.Callback()).ok());
  ASSERT_TRUE(batcher->Submit({2, 3}, {}, b.Callback()).ok());
  ASSERT_TRUE(batcher->Submit({4}, {}, c.Callback()).ok());  // 4 queued: a full batch
  EXPECT_THAT(a.Values(), ElementsAre(2));
  EXPECT_THAT(b.Values(), ElementsAre(4, 6));
  EXPECT_THAT(c.Values(), ElementsAre(8));
  EXPECT_THAT(processor.batches(), ElementsAre(ElementsAre(1, 2, 3, 4)));
  ASSERT_TRUE(batcher->Submit({5}, {}, d.Callback()).ok());  // waits for the (hour) delay ...
  batcher->Stop();                                           // ... or for Stop, which drains it
  EXPECT_THAT(d.Values(), ElementsAre(10));
  EXPECT_THAT(batcher->stats().batch_sizes, ElementsAre(Pair(1, 1), Pair(4, 1)));
}

TEST(BatcherTest, PartialBatchWaitsForTheQueueDelay) {
  Processor processor;
  constexpr int64_t kDelayUs = 30000;
  auto batcher = MakeBatcher({.max_batch_size = 8, .max_queue_delay_us = kDelayUs}, &processor);
  const absl::Time start = absl::Now();
  auto results = batcher->SubmitAndWait({7});
  const absl::Duration waited = absl::Now() - start;
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(*(*results)[0], 14);
  EXPECT_GE(waited, absl::Microseconds(kDelayUs));  // lower bound only: never flaky
  EXPECT_THAT(batcher->stats().batch_sizes, ElementsAre(Pair(1, 1)));
}

TEST(BatcherTest, ZeroDelayBatchesWhatQueuedDuringTheRunningBatch) {
  Processor processor(/*gate_first_batch=*/true);
  auto batcher = MakeBatcher({.max_batch_size = 8, .max_queue_delay_us = 0}, &processor);
  Outcome first;
  ASSERT_TRUE(batcher->Submit({100}, {}, first.Callback()).ok());
  processor.WaitUntilGated();  // batch {100} is running alone: no added latency
  std::vector<Outcome> queued(5);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(batcher->Submit({i}, {}, queued[i].Callback()).ok());
  EXPECT_EQ(batcher->stats().queued_instances, 5);
  EXPECT_EQ(batcher->stats().queued_requests, 5);
  EXPECT_EQ(batcher->stats().in_flight_instances, 1);
  processor.Release();
  for (int i = 0; i < 5; ++i) EXPECT_THAT(queued[i].Values(), ElementsAre(2 * i));
  EXPECT_THAT(first.Values(), ElementsAre(200));
  EXPECT_THAT(processor.batches(), ElementsAre(ElementsAre(100), ElementsAre(0, 1, 2, 3, 4)));
  EXPECT_THAT(batcher->stats().batch_sizes, ElementsAre(Pair(1, 1), Pair(5, 1)));
}

TEST(BatcherTest, LargeRequestIsSplitAcrossBatchesAndReassembledInOrder) {
  Processor processor;
  auto batcher = MakeBatcher({.max_batch_size = 4}, &processor);
  auto results = batcher->SubmitAndWait({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  ASSERT_TRUE(results.ok());
  std::vector<int> values;
  for (const auto& r : *results) values.push_back(*r);
  EXPECT_THAT(values, ElementsAre(0, 2, 4, 6, 8, 10, 12, 14, 16, 18));
  EXPECT_THAT(processor.batches(),
              ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(4, 5, 6, 7), ElementsAre(8, 9)));
  const BatcherStats stats = batcher->stats();
  EXPECT_THAT(stats.batch_sizes, ElementsAre(Pair(2, 1), Pair(4, 2)));
  EXPECT_EQ(stats.completed_requests, 1);
}

TEST(BatcherTest, RequestsShareBatchesAcrossBoundaries) {
  Processor processor(/*gate_first_batch=*/true);
  auto batcher = MakeBatcher({.max_batch_size = 4}, &processor);
  Outcome gate, x, y;
  ASSERT_TRUE(batcher->Submit({99}, {}, gate.Callback()).ok());
  processor.WaitUntilGated();
  ASSERT_TRUE(batcher->Submit({1, 2, 3}, {}, x.Callback()).ok());
  ASSERT_TRUE(batcher->Submit({4, 5, 6}, {}, y.Callback()).ok());
  processor.Release();
  EXPECT_THAT(x.Values(), ElementsAre(2, 4, 6));
  EXPECT_THAT(y.Values(), ElementsAre(8, 10, 12));
  EXPECT_THAT(processor.batches(),
              ElementsAre(ElementsAre(99), ElementsAre(1, 2, 3, 4), ElementsAre(5, 6)));
}

TEST(BatcherTest, FullQueueIsRejectedImmediately) {
  Processor processor(/*gate_first_batch=*/true);
  auto batcher = MakeBatcher({.max_batch_size = 2, .max_queue_size = 4}, &processor);
  Outcome running, a, b;
  ASSERT_TRUE(batcher->Submit({0}, {}, running.Callback()).ok());
  processor.WaitUntilGated();  // in flight: does not count against the queue
  ASSERT_TRUE(batcher->Submit({1, 2, 3}, {}, a.Callback()).ok());
  absl::Status full = batcher->Submit({4, 5}, {}, [](auto) { ADD_FAILURE() << "refused"; });
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(full.message()),
              HasSubstr("the batch queue is full (3 of 4 instances queued, this request has 2)"));
  ASSERT_TRUE(batcher->Submit({4}, {}, b.Callback()).ok());  // exactly fills it
  absl::Status too_big = batcher->Submit({1, 2, 3, 4, 5}, {}, [](auto) { ADD_FAILURE(); });
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_big.message()),
              HasSubstr("the request has 5 instances; at most 4 can be queued"));
  absl::Status empty = batcher->Submit({}, {}, [](auto) { ADD_FAILURE(); });
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batcher->stats().rejected_requests, 1);
  EXPECT_EQ(batcher->stats().queued_instances, 4);
  processor.Release();
  EXPECT_THAT(a.Values(), ElementsAre(2, 4, 6));
  EXPECT_THAT(b.Values(), ElementsAre(8));
}

TEST(BatcherTest, ExpiredRequestIsDroppedNotComputed) {
  FakeClock clock;
  Processor processor(/*gate_first_batch=*/true);
  auto batcher = MakeBatcher({.max_batch_size = 8, .clock = &clock}, &processor);
  Outcome running, expires, survives;
  ASSERT_TRUE(batcher->Submit({1}, {}, running.Callback()).ok());
  processor.WaitUntilGated();
  ASSERT_TRUE(
      batcher->Submit({2}, {.deadline = clock.Now() + absl::Seconds(1)}, expires.Callback()).ok());
  ASSERT_TRUE(
      batcher->Submit({3}, {.deadline = clock.Now() + absl::Seconds(5)}, survives.Callback()).ok());
  clock.Advance(absl::Seconds(2));
  processor.Release();
  expires.done.WaitForNotification();
  EXPECT_EQ(expires.results.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(survives.Values(), ElementsAre(6));
  EXPECT_THAT(processor.batches(), ElementsAre(ElementsAre(1), ElementsAre(3)));
  EXPECT_EQ(batcher->stats().dropped_deadline, 1);
  EXPECT_EQ(batcher->stats().completed_requests, 3);

  // Already expired on arrival: refused synchronously.
  absl::Status late = batcher->Submit({4}, {.deadline = clock.Now()}, [](auto) { ADD_FAILURE(); });
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(BatcherTest, CancelledRequestIsDroppedNotComputed) {
  Processor processor(/*gate_first_batch=*/true);
  auto batcher = MakeBatcher({.max_batch_size = 8}, &processor);
  Outcome running, cancelled, kept;
  ASSERT_TRUE(batcher->Submit({1}, {}, running.Callback()).ok());
  processor.WaitUntilGated();
  auto token = std::make_shared<CancellationToken>();
  ASSERT_TRUE(batcher->Submit({2, 3}, {.cancellation = token}, cancelled.Callback()).ok());
  ASSERT_TRUE(batcher->Submit({4}, {}, kept.Callback()).ok());
  token->Cancel();
  processor.Release();
  cancelled.done.WaitForNotification();
  EXPECT_EQ(cancelled.results.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(kept.Values(), ElementsAre(8));
  EXPECT_THAT(processor.batches(), ElementsAre(ElementsAre(1), ElementsAre(4)));
  EXPECT_EQ(batcher->stats().dropped_cancelled, 1);

  absl::Status refused = batcher->Submit({5}, {.cancellation = token}, [](auto) { ADD_FAILURE(); });
  EXPECT_EQ(refused.code(), absl::StatusCode::kCancelled);
}

TEST(BatcherTest, SplitRequestExpiringMidwayStopsAndReportsOnce) {
  FakeClock clock;
  Processor processor(/*gate_first_batch=*/true);
  auto batcher = MakeBatcher({.max_batch_size = 2, .clock = &clock}, &processor);
  Outcome outcome;
  ASSERT_TRUE(batcher
                  ->Submit({1, 2, 3, 4, 5}, {.deadline = clock.Now() + absl::Seconds(1)},
                           outcome.Callback())
                  .ok());
  processor.WaitUntilGated();  // the first 2 instances are being processed
  clock.Advance(absl::Seconds(2));
  processor.Release();
  outcome.done.WaitForNotification();
  EXPECT_EQ(outcome.results.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(processor.batches(), ElementsAre(ElementsAre(1, 2)));  // the rest never computed
  batcher->Stop();
  const BatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.completed_requests, 1);
  EXPECT_EQ(stats.queued_instances, 0);
  EXPECT_EQ(stats.in_flight_instances, 0);
}

TEST(BatcherTest, FullQueueMakesRoomByPurgingDeadRequests) {
  FakeClock clock;
  Processor processor(/*gate_first_batch=*/true);
  auto batcher =
      MakeBatcher({.max_batch_size = 2, .max_queue_size = 2, .clock = &clock}, &processor);
  Outcome running, dead, fresh;
  ASSERT_TRUE(batcher->Submit({0}, {}, running.Callback()).ok());
  processor.WaitUntilGated();
  ASSERT_TRUE(
      batcher->Submit({1, 2}, {.deadline = clock.Now() + absl::Seconds(1)}, dead.Callback()).ok());
  clock.Advance(absl::Seconds(2));
  ASSERT_TRUE(batcher->Submit({3}, {}, fresh.Callback()).ok());  // room made by dropping `dead`
  EXPECT_EQ(batcher->stats().queued_instances, 1);
  EXPECT_EQ(batcher->stats().dropped_deadline, 1);
  // DoneFn runs on the batch thread, which is busy with the gated batch until released.
  EXPECT_FALSE(dead.done.HasBeenNotified());
  processor.Release();
  dead.done.WaitForNotification();
  EXPECT_EQ(dead.results.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(fresh.Values(), ElementsAre(6));
  EXPECT_THAT(processor.batches(), ElementsAre(ElementsAre(0), ElementsAre(3)));
}

TEST(BatcherTest, BadProcessFunctionFailsItsBatchWithInternal) {
  auto wrong_count = IntBatcher::Create({.max_batch_size = 4},
                                        [](std::span<const int* const>) { return Results{1}; });
  ASSERT_TRUE(wrong_count.ok());
  auto results = (*wrong_count)->SubmitAndWait({1, 2});
  ASSERT_TRUE(results.ok());
  for (const auto& r : *results) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("returned 1 results for 2 inputs"));
  }
  auto throws = IntBatcher::Create(
      {.max_batch_size = 4},
      [](std::span<const int* const>) -> Results { throw std::runtime_error("boom"); });
  ASSERT_TRUE(throws.ok());
  auto thrown = (*throws)->SubmitAndWait({1});
  ASSERT_TRUE(thrown.ok());
  EXPECT_EQ((*thrown)[0].status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string((*thrown)[0].status().message()), HasSubstr("threw: boom"));
  EXPECT_EQ((*throws)->stats().failed_instances, 1);
}

TEST(BatcherTest, NonStdExceptionFromProcessFailsItsBatchAndTheNextBatchRuns) {
  std::atomic<int> calls{0};
  auto batcher = IntBatcher::Create({.max_batch_size = 4}, [&](std::span<const int* const> b) {
    if (calls.fetch_add(1) == 0) throw 42;
    Results out;
    for (const int* v : b) out.push_back(*v * 10);
    return out;
  });
  ASSERT_TRUE(batcher.ok());
  auto thrown = (*batcher)->SubmitAndWait({1});
  ASSERT_TRUE(thrown.ok());
  EXPECT_EQ((*thrown)[0].status().code(), absl::StatusCode::kInternal);
  auto next = (*batcher)->SubmitAndWait({2});
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE((*next)[0].ok()) << (*next)[0].status();
  EXPECT_EQ(*(*next)[0], 20);
}

// A DoneFn is the caller's code: what it throws must not end the batch thread, or every later
// request would hang.
TEST(BatcherTest, ThrowingDoneFnDoesNotEndTheBatchThread) {
  auto batcher = IntBatcher::Create({.max_batch_size = 1}, [](std::span<const int* const> b) {
    Results out;
    for (const int* v : b) out.push_back(*v);
    return out;
  });
  ASSERT_TRUE(batcher.ok());
  ASSERT_TRUE((*batcher)
                  ->Submit({1}, {}, [](absl::StatusOr<Results>) { throw std::runtime_error("x"); })
                  .ok());
  ASSERT_TRUE((*batcher)->Submit({2}, {}, [](absl::StatusOr<Results>) { throw 7; }).ok());
  auto after = (*batcher)->SubmitAndWait({3});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*(*after)[0], 3);
  EXPECT_EQ((*batcher)->stats().completed_requests, 3);
}

TEST(BatcherTest, StopDrainsQueuedWorkThenRefuses) {
  Processor processor;
  auto batcher = MakeBatcher({.max_batch_size = 8, .max_queue_delay_us = kHourUs}, &processor);
  std::vector<Outcome> outcomes(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(batcher->Submit({i}, {}, outcomes[i].Callback()).ok());
  EXPECT_EQ(BatcherStateName(batcher->stats().state), "RUNNING");
  batcher->Stop();  // the hour-long delay is not waited for
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(outcomes[i].done.HasBeenNotified());
    EXPECT_THAT(outcomes[i].Values(), ElementsAre(2 * i));
  }
  EXPECT_THAT(processor.batches(), ElementsAre(ElementsAre(0, 1, 2)));
  absl::Status after = batcher->Submit({1}, {}, [](auto) { ADD_FAILURE(); });
  EXPECT_EQ(after.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(after.message()), HasSubstr("stopped"));
  EXPECT_EQ(BatcherStateName(batcher->stats().state), "STOPPED");
  batcher->Stop();  // idempotent
}

TEST(BatcherTest, SubmitWhileDrainingIsUnavailableAndConcurrentStopsWait) {
  Processor processor(/*gate_first_batch=*/true);
  auto batcher = MakeBatcher({.max_batch_size = 8}, &processor);
  Outcome running;
  ASSERT_TRUE(batcher->Submit({1}, {}, running.Callback()).ok());
  processor.WaitUntilGated();
  std::thread stopper1([&] { batcher->Stop(); });
  std::thread stopper2([&] { batcher->Stop(); });
  while (batcher->stats().state == BatcherState::kRunning) std::this_thread::yield();
  absl::Status refused = batcher->Submit({2}, {}, [](auto) { ADD_FAILURE(); });
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("draining"));
  EXPECT_EQ(batcher->stats().state, BatcherState::kDraining);
  processor.Release();
  stopper1.join();
  stopper2.join();
  EXPECT_EQ(batcher->stats().state, BatcherState::kStopped);
  EXPECT_THAT(running.Values(), ElementsAre(2));
}

TEST(BatcherTest, DestructorDrains) {
  Processor processor;
  std::vector<Outcome> outcomes(4);
  {
    auto batcher = MakeBatcher({.max_batch_size = 8, .max_queue_delay_us = kHourUs}, &processor);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(batcher->Submit({i}, {}, outcomes[i].Callback()).ok());
  }
  for (int i = 0; i < 4; ++i) EXPECT_THAT(outcomes[i].Values(), ElementsAre(2 * i));
}

TEST(BatcherTest, MoveOnlyInputsAndStringOutputs) {
  using Batcher = DynamicBatcher<std::unique_ptr<std::string>, std::string>;
  auto batcher = Batcher::Create({.max_batch_size = 2},
                                 [](std::span<const std::unique_ptr<std::string>* const> batch) {
                                   Batcher::Results out;
                                   for (const auto* in : batch) out.push_back("<" + **in + ">");
                                   return out;
                                 });
  ASSERT_TRUE(batcher.ok());
  std::vector<std::unique_ptr<std::string>> inputs;
  for (const char* s : {"a", "b", "c"}) inputs.push_back(std::make_unique<std::string>(s));
  auto results = (*batcher)->SubmitAndWait(std::move(inputs));
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(*(*results)[0], "<a>");
  EXPECT_EQ(*(*results)[2], "<c>");
}

TEST(BatcherTest, StatsToJson) {
  Processor processor;
  auto batcher = MakeBatcher({.max_batch_size = 4}, &processor);
  ASSERT_TRUE(batcher->SubmitAndWait({1, 2, 3, 4, 5}).ok());
  const nlohmann::json json = BatcherStatsToJson(batcher->stats());
  EXPECT_EQ(json["state"], "RUNNING");
  EXPECT_EQ(json["batchSizes"]["4"], 1);
  EXPECT_EQ(json["batchSizes"]["1"], 1);
  EXPECT_EQ(json["batches"], 2);
  EXPECT_EQ(json["processedInstances"], 5);
  EXPECT_EQ(json["queuedInstances"], 0);
}

// Many submitters, one or more batch threads: every request gets exactly its own results back, in
// order, exactly once; no batch exceeds max_batch_size; with one batch thread the process function
// never runs concurrently; the counters add up.
struct ConcurrencyCase {
  int submitters;
  int batch_threads;
  int64_t delay_us;
};

class BatcherConcurrencyTest : public ::testing::TestWithParam<ConcurrencyCase> {};

TEST_P(BatcherConcurrencyTest, EveryRequestGetsItsOwnResults) {
  const ConcurrencyCase c = GetParam();
  constexpr int kMaxBatch = 6;
  constexpr int kRequestsPerSubmitter = 150;
  Processor processor;
  auto batcher = MakeBatcher({.max_batch_size = kMaxBatch,
                              .max_queue_delay_us = c.delay_us,
                              .max_queue_size = 100000,
                              .num_batch_threads = c.batch_threads},
                             &processor);
  std::atomic<int64_t> mismatches{0}, callbacks{0}, instances{0};
  std::vector<std::thread> submitters;
  for (int s = 0; s < c.submitters; ++s) {
    submitters.emplace_back([&, s] {
      std::mt19937 rng(s);
      std::vector<absl::Notification> done(kRequestsPerSubmitter);
      for (int r = 0; r < kRequestsPerSubmitter; ++r) {
        const int n = 1 + static_cast<int>(rng() % 9);  // some larger than a batch
        std::vector<int> inputs;
        for (int i = 0; i < n; ++i) {
          const int v = (s * 100000 + r * 10 + i) * (i % 4 == 3 ? -1 : 1);
          inputs.push_back(v);
        }
        instances.fetch_add(n);
        std::vector<int> expected = inputs;
        absl::Status status = batcher->Submit(
            std::move(inputs), {}, [&, expected, r](absl::StatusOr<Results> results) {
              callbacks.fetch_add(1);
              if (!results.ok() || results->size() != expected.size()) {
                mismatches.fetch_add(1);
              } else {
                for (size_t i = 0; i < expected.size(); ++i) {
                  const auto& got = (*results)[i];
                  const bool ok =
                      expected[i] < 0 ? !got.ok() : (got.ok() && *got == 2 * expected[i]);
                  if (!ok) mismatches.fetch_add(1);
                }
              }
              done[r].Notify();
            });
        if (!status.ok()) {
          mismatches.fetch_add(1);
          done[r].Notify();
        }
      }
      for (auto& d : done) d.WaitForNotification();
    });
  }
  for (auto& t : submitters) t.join();
  batcher->Stop();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(callbacks.load(), int64_t{c.submitters} * kRequestsPerSubmitter);
  const BatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.submitted_requests, callbacks.load());
  EXPECT_EQ(stats.completed_requests, callbacks.load());
  EXPECT_EQ(stats.processed_instances, instances.load());
  int64_t from_histogram = 0, batches = 0;
  for (const auto& [size, count] : stats.batch_sizes) {
    EXPECT_GE(size, 1);
    EXPECT_LE(size, kMaxBatch);
    from_histogram += int64_t{size} * count;
    batches += count;
  }
  EXPECT_EQ(from_histogram, instances.load());
  EXPECT_EQ(batches, stats.batches);
  EXPECT_EQ(stats.queued_instances, 0);
  EXPECT_EQ(stats.in_flight_instances, 0);
  if (c.batch_threads == 1) {
    EXPECT_EQ(processor.max_active(), 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, BatcherConcurrencyTest,
                         ::testing::Values(ConcurrencyCase{1, 1, 0}, ConcurrencyCase{2, 1, 0},
                                           ConcurrencyCase{4, 1, 0}, ConcurrencyCase{8, 1, 0},
                                           ConcurrencyCase{8, 1, 200}, ConcurrencyCase{4, 2, 0},
                                           ConcurrencyCase{8, 4, 100}),
                         [](const ::testing::TestParamInfo<ConcurrencyCase>& info) {
                           return "submitters" + std::to_string(info.param.submitters) +
                                  "_threads" + std::to_string(info.param.batch_threads) + "_delay" +
                                  std::to_string(info.param.delay_us) + "us";
                         });

// A small queue under concurrent load: every Submit either is accepted (and completes) or is
// refused with RESOURCE_EXHAUSTED at once; nothing else, nothing lost.
class BatcherBackpressureTest : public ::testing::TestWithParam<int> {};

TEST_P(BatcherBackpressureTest, AcceptedPlusRejectedIsEverything) {
  const int submitters = GetParam();
  Processor processor;
  auto batcher = MakeBatcher({.max_batch_size = 2, .max_queue_size = 4}, &processor);
  std::atomic<int64_t> accepted{0}, rejected{0}, other{0}, completed{0};
  std::vector<std::thread> threads;
  for (int s = 0; s < submitters; ++s) {
    threads.emplace_back([&] {
      for (int r = 0; r < 300; ++r) {
        absl::Status status = batcher->Submit({1, 2}, {}, [&](absl::StatusOr<Results> results) {
          if (results.ok()) completed.fetch_add(1);
        });
        if (status.ok()) {
          accepted.fetch_add(1);
        } else if (status.code() == absl::StatusCode::kResourceExhausted) {
          rejected.fetch_add(1);
        } else {
          other.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  batcher->Stop();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(accepted.load() + rejected.load(), int64_t{submitters} * 300);
  EXPECT_EQ(completed.load(), accepted.load());
  EXPECT_EQ(batcher->stats().rejected_requests, rejected.load());
  EXPECT_GT(accepted.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Threads, BatcherBackpressureTest, ::testing::Values(1, 2, 4, 8));

}  // namespace
}  // namespace tessera
