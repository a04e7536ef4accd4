// OperationService and OperationRunner: the operation lifecycle seen by clients.
#include "registry/operation_service.h"

#include <atomic>
#include <stdexcept>
#include <thread>

#include "gtest/gtest.h"
#include "registry/operation_runner.h"
#include "registry/sqlite/sqlite_metadata_store.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::registry {
namespace {

using testing::ScopedTempDir;

class OperationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *sqlite::SqliteMetadataStore::Open({.path = tmp_.path() / "t.db"});
    ops_ = *OperationService::Create({.store = store_.get(), .clock = &clock_});
  }
  Operation Begin() {
    auto op =
        ops_->Begin(parent_, OperationKind::kDeployModel, "projects/p/locations/l/endpoints/1");
    EXPECT_TRUE(op.ok()) << op.status();
    return *op;
  }

  ScopedTempDir tmp_;
  RealClock clock_;
  LocationName parent_{"p", "l"};
  std::unique_ptr<sqlite::SqliteMetadataStore> store_;
  std::unique_ptr<OperationService> ops_;
};

TEST_F(OperationServiceTest, WorkCompletesWithResultAndProgress) {
  auto runner = *OperationRunner::Create({.operations = ops_.get(), .threads = 2});
  Operation op = Begin();
  EXPECT_FALSE(op.done);
  EXPECT_EQ(op.stage, "PENDING");
  ASSERT_TRUE(
      runner
          ->Submit(op,
                   [](OperationContext& ctx) -> absl::StatusOr<OperationResult> {
                     ctx.SetProgress(50, "HALF_WAY");
                     return OperationResult{"", "", "projects/p/locations/l/endpoints/1", "7"};
                   })
          .ok());
  auto done = ops_->WaitOperation(op.name, absl::Seconds(30));
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->done);
  EXPECT_TRUE(done->error.ok());
  EXPECT_EQ(done->result.deployed_model_id, "7");
  EXPECT_EQ(done->progress_percent, 100);
  EXPECT_GE(done->update_time, done->create_time);
}

TEST_F(OperationServiceTest, FailureIsRecordedWithCodeAndMessage) {
  auto runner = *OperationRunner::Create({.operations = ops_.get()});
  Operation op = Begin();
  ASSERT_TRUE(runner
                  ->Submit(op,
                           [](OperationContext&) -> absl::StatusOr<OperationResult> {
                             return absl::FailedPreconditionError("replica exited: out of memory");
                           })
                  .ok());
  runner->WaitIdle();
  auto got = ops_->GetOperation(op.name);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->done);
  EXPECT_EQ(got->error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(got->error.message(), "replica exited: out of memory");
}

// Work that throws (a std::exception or anything else) fails its operation with a clear
// INTERNAL error; the single worker goes on with the next operation.
TEST_F(OperationServiceTest, ThrowingWorkFailsItsOperationAndTheWorkerGoesOn) {
  auto runner = *OperationRunner::Create({.operations = ops_.get(), .threads = 1});
  Operation std_throw = Begin();
  Operation int_throw = Begin();
  Operation fine = Begin();
  ASSERT_TRUE(runner
                  ->Submit(std_throw,
                           [](OperationContext&) -> absl::StatusOr<OperationResult> {
                             throw std::length_error("vector::_M_default_append");
                           })
                  .ok());
  ASSERT_TRUE(runner
                  ->Submit(int_throw,
                           [](OperationContext&) -> absl::StatusOr<OperationResult> { throw 42; })
                  .ok());
  ASSERT_TRUE(runner
                  ->Submit(fine,
                           [](OperationContext&) -> absl::StatusOr<OperationResult> {
                             return OperationResult{"", "", "projects/p/locations/l/endpoints/1",
                                                    "9"};
                           })
                  .ok());
  runner->WaitIdle();
  auto a = ops_->GetOperation(std_throw.name);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->done);
  EXPECT_EQ(a->error.code(), absl::StatusCode::kInternal);
  EXPECT_NE(a->error.message().find("std::length_error: vector::_M_default_append"),
            std::string::npos)
      << a->error;
  auto b = ops_->GetOperation(int_throw.name);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->done);
  EXPECT_EQ(b->error.code(), absl::StatusCode::kInternal);
  EXPECT_NE(b->error.message().find("an exception of type int"), std::string::npos) << b->error;
  auto c = ops_->GetOperation(fine.name);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->done);
  EXPECT_TRUE(c->error.ok()) << c->error;
  EXPECT_EQ(c->result.deployed_model_id, "9");
}

TEST_F(OperationServiceTest, CancelReachesQueuedAndRunningWork) {
  auto runner = *OperationRunner::Create({.operations = ops_.get(), .threads = 1});
  std::atomic<bool> started{false};
  Operation running = Begin();
  Operation queued = Begin();
  ASSERT_TRUE(runner
                  ->Submit(running,
                           [&](OperationContext& ctx) -> absl::StatusOr<OperationResult> {
                             started = true;
                             while (!ctx.cancel().WaitFor(absl::Milliseconds(5))) {
                             }
                             return absl::CancelledError("stopped");
                           })
                  .ok());
  std::atomic<bool> queued_ran{false};
  ASSERT_TRUE(runner
                  ->Submit(queued,
                           [&](OperationContext&) -> absl::StatusOr<OperationResult> {
                             queued_ran = true;
                             return OperationResult{};
                           })
                  .ok());
  while (!started) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_TRUE(ops_->CancelOperation(queued.name).ok());
  ASSERT_TRUE(ops_->CancelOperation(running.name).ok());
  runner->WaitIdle();
  EXPECT_FALSE(queued_ran) << "cancelled while queued: its work never runs";
  for (const Operation& op : {running, queued}) {
    auto got = ops_->GetOperation(op.name);
    EXPECT_TRUE(got->done);
    EXPECT_EQ(got->error.code(), absl::StatusCode::kCancelled);
  }
}

TEST_F(OperationServiceTest, CancelWithoutRunningWorkCompletesItCancelled) {
  Operation op = Begin();
  ASSERT_TRUE(ops_->CancelOperation(op.name).ok());
  EXPECT_EQ(ops_->GetOperation(op.name)->error.code(), absl::StatusCode::kCancelled);
}

TEST_F(OperationServiceTest, WaitWakesOnCompletionAndTimesOut) {
  Operation op = Begin();
  absl::Time start = absl::Now();
  auto not_done = ops_->WaitOperation(op.name, absl::Milliseconds(100));
  ASSERT_TRUE(not_done.ok());
  EXPECT_FALSE(not_done->done);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  EXPECT_FALSE(ops_->WaitOperation(op.name, absl::ZeroDuration())->done);
  std::thread finisher([&] {
    absl::SleepFor(absl::Milliseconds(50));
    ASSERT_TRUE(ops_->Finish(op.name, OperationResult{}).ok());
  });
  start = absl::Now();
  auto done = ops_->WaitOperation(op.name, absl::Seconds(30));
  finisher.join();
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->done);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_F(OperationServiceTest, BadNamesListsAndDelete) {
  EXPECT_TRUE(absl::IsInvalidArgument(ops_->GetOperation("operations/1").status()));
  EXPECT_TRUE(
      absl::IsNotFound(ops_->GetOperation("projects/p/locations/l/operations/99").status()));
  EXPECT_TRUE(absl::IsNotFound(ops_->CancelOperation("projects/p/locations/l/operations/99")));
  EXPECT_TRUE(absl::IsNotFound(
      ops_->WaitOperation("projects/p/locations/l/operations/99", absl::Seconds(1)).status()));
  Operation a = Begin();
  Operation b = Begin();
  ASSERT_TRUE(ops_->Finish(a.name, OperationResult{}).ok());
  auto all = ops_->ListOperations("projects/p/locations/l", {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 2u);
  EXPECT_EQ(all->items[0].name, b.name) << "newest first";
  EXPECT_EQ(ops_->ListOperations("projects/p/locations/l", {.filter = "done=true"})->items.size(),
            1u);
  EXPECT_TRUE(absl::IsInvalidArgument(
      ops_->ListOperations("projects/p/locations/l", {.filter = "display_name=x"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ops_->ListOperations("projects/p/locations/l", {.page_token = "??"}).status()));
  ASSERT_TRUE(ops_->DeleteOperation(a.name).ok());
  EXPECT_TRUE(absl::IsNotFound(ops_->GetOperation(a.name).status()));
  EXPECT_TRUE(absl::IsNotFound(ops_->DeleteOperation(a.name)));
  // Finishing a deleted operation is harmless.
  EXPECT_TRUE(ops_->Finish(a.name, OperationResult{}).ok());
}

TEST_F(OperationServiceTest, RunnerShutdownCompletesInterruptedWorkAsRetryable) {
  Operation running = Begin();
  Operation queued = Begin();
  {
    auto runner = *OperationRunner::Create({.operations = ops_.get(), .threads = 1});
    std::atomic<bool> started{false};
    ASSERT_TRUE(runner
                    ->Submit(running,
                             [&](OperationContext& ctx) -> absl::StatusOr<OperationResult> {
                               started = true;
                               while (!ctx.cancel().WaitFor(absl::Milliseconds(5))) {
                               }
                               return absl::CancelledError("stopped");
                             })
                    .ok());
    ASSERT_TRUE(runner
                    ->Submit(queued,
                             [](OperationContext&) -> absl::StatusOr<OperationResult> {
                               return OperationResult{};
                             })
                    .ok());
    while (!started) absl::SleepFor(absl::Milliseconds(1));
  }
  for (const Operation& op : {running, queued}) {
    auto got = ops_->GetOperation(op.name);
    EXPECT_TRUE(got->done) << op.name;
    EXPECT_EQ(got->error.code(), absl::StatusCode::kUnavailable) << op.name << " " << got->error;
  }
}

}  // namespace
}  // namespace tessera::registry
