// Dynamic batcher: groups the instances of concurrent predict requests into batches for the engine.
//
// Used inside each replica process in front of the engine (one batcher per replica). A request of
// N instances (N images) is N work items that come back together, in order; a request larger than
// max_batch_size is split across consecutive batches. A batch is formed when max_batch_size
// instances are queued, or when the oldest queued instance has waited max_queue_delay_us, whichever
// comes first. With max_queue_delay_us = 0 nothing waits: a free batch thread takes whatever is
// queued (up to max_batch_size) at once, so batches still form under load (the requests that
// arrived while the previous batch ran) without adding latency when idle.
//
// Contract
//  - Threads: the batcher owns num_batch_threads threads (normally 1: the engine's Forward is not
//    re-entrant and uses every core itself). ProcessFn and every DoneFn run on those threads.
//    Submit, stats and Stop may be called from any thread, except that Stop must not be called from
//    inside ProcessFn or a DoneFn (it joins the batch threads).
//  - A request that completes (all its instances processed) gets its DoneFn on the thread that
//    ran its last batch, right after that batch's ProcessFn returns and before the thread takes
//    another batch: the replica reads that batch's timings from a thread-local there.
//  - What must be cheap: Submit (a lock, a queue push; never blocks on processing) and DoneFn (it
//    runs on the batch thread between batches: hand the result to the I/O thread and return).
//  - Ownership: Submit takes the inputs by value; ProcessFn sees const pointers into them, valid
//  for
//    the duration of the call. Results are moved into DoneFn.
//  - Errors: per instance inside a batch (ProcessFn returns one StatusOr per input: one bad image
//    does not fail its batch-mates). A whole request fails (DoneFn gets a non-OK status) only when
//    it is dropped: its deadline passed or its cancellation token fired before all of its instances
//    were put in a batch (DEADLINE_EXCEEDED / CANCELLED; checked when batches are formed, so an
//    expired request is never computed). Submit itself refuses synchronously, without calling done:
//    INVALID_ARGUMENT (no instances, or more than max_queue_size), RESOURCE_EXHAUSTED (queue full:
//    memory is bounded by max_queue_size), UNAVAILABLE (stopping or stopped), DEADLINE_EXCEEDED /
//    CANCELLED (already dead on arrival).
//  - DoneFn is called exactly once for every accepted request, even across Stop(). Exceptions:
//    ProcessFn's fail its batch's instances with INTERNAL; DoneFn's and thread_init's are logged
//    at error level and the batch thread goes on (no exception ends a batch thread).
//  - Stop(): graceful. New submits fail UNAVAILABLE; everything queued is processed (without
//  waiting
//    for the delay); then the threads exit. The destructor calls Stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/cancellation.h"
#include "common/clock.h"
#include "common/current_exception.h"
#include "nlohmann/json_fwd.hpp"

namespace tessera {

struct BatcherOptions {
  // Most instances in one batch (one engine Forward).
  int max_batch_size = 8;
  // How long the oldest queued instance may wait for batch-mates. 0 (the default, as Triton's):
  // never wait; under load batches form from what queued during the previous batch.
  int64_t max_queue_delay_us = 0;
  // Most instances waiting (not yet in a batch); beyond it Submit fails RESOURCE_EXHAUSTED.
  int max_queue_size = 128;
  // Batches processed concurrently. 1 unless ProcessFn is re-entrant and single-threaded.
  int num_batch_threads = 1;
  // Time source for enqueue times, deadlines and the queue delay; not owned; null = wall time.
  // The batch threads wait on real time computed from it: with a fake clock, use a delay of 0 (or
  // one no test reaches) and drive deadlines with the clock.
  const Clock* clock = nullptr;
  // Runs first on each batch thread, before it takes any batch. The replica loads its model here,
  // so one thread owns the engine: loaded on one thread and run on another, the forward pass was
  // ~13% slower (ViT-Tiny, batch 8: 131-137 vs 116-125 ms; two OpenMP teams then exist, more
  // threads than cores, and libgomp throttles its spin-waits at every barrier).
  std::function<void()> thread_init;
};

// INVALID_ARGUMENT naming the bad field.
absl::Status ValidateBatcherOptions(const BatcherOptions& options);

struct SubmitOptions {
  // Not started by then: dropped with DEADLINE_EXCEEDED.
  absl::Time deadline = absl::InfiniteFuture();
  // Optional; cancelled before started: dropped with CANCELLED.
  std::shared_ptr<const CancellationToken> cancellation;
};

enum class BatcherState {
  kRunning,   // accepting requests and forming batches
  kDraining,  // Stop() called: Submit fails UNAVAILABLE; the queue is processed without delay
  kStopped,   // the batch threads have exited; nothing is queued or in flight
};
std::string_view BatcherStateName(BatcherState state);

// A consistent snapshot of the batcher's counters (taken under its lock; cheap: a copy of a few
// dozen integers). Counters are totals since Create; the "now" fields are gauges.
struct BatcherStats {
  BatcherState state = BatcherState::kRunning;
  std::map<int, int64_t> batch_sizes;  // batch size (instances) -> batches of that size
  int64_t batches = 0;
  int64_t processed_instances = 0;  // instances given to ProcessFn
  int64_t failed_instances = 0;     // ...that came back with an error
  int64_t submitted_requests = 0;   // accepted by Submit
  int64_t completed_requests = 0;   // DoneFn called (including dropped ones)
  int64_t rejected_requests = 0;    // refused by Submit because the queue was full
  int64_t dropped_deadline = 0;     // requests dropped: deadline passed before processing
  int64_t dropped_cancelled = 0;    // requests dropped: cancelled before processing
  int64_t queued_instances = 0;     // now: waiting for a batch
  int64_t queued_requests = 0;      // now: with at least one instance waiting
  int64_t in_flight_instances = 0;  // now: inside ProcessFn
};

// {"state": "RUNNING", "batchSizes": {"1": 10, "8": 3}, "batches": 13, ...}, for health/status.
nlohmann::json BatcherStatsToJson(const BatcherStats& stats);

namespace batcher_internal {

// One accepted request as the scheduler sees it: a count of instances, a deadline, a cancellation
// token. The typed layer (DynamicBatcher) subclasses it to hold the inputs and results.
class Task {
 public:
  Task(int size, const SubmitOptions& options)
      : size_(size), deadline_(options.deadline), cancellation_(options.cancellation) {}
  virtual ~Task() = default;
  int size() const { return size_; }
  // Called exactly once, on a batch thread, without the scheduler's lock. OK: every instance was
  // processed and its result stored; otherwise the request was dropped with this status.
  virtual void Finish(absl::Status status) = 0;

 private:
  friend class BatchScheduler;
  const int size_;
  const absl::Time deadline_;
  const std::shared_ptr<const CancellationToken> cancellation_;
  // The scheduler's bookkeeping, guarded by its mutex.
  absl::Time enqueue_time_;
  int next_ = 0;          // first instance not yet put in a batch
  int outstanding_ = 0;   // instances in batches that have not finished
  absl::Status failure_;  // why the request was dropped
};

// Logs (error level) why a whole batch of `instances` failed.
void LogBatchFailure(const absl::Status& status, size_t instances);

// Instances [begin, end) of one task, placed in a batch.
struct Slice {
  std::shared_ptr<Task> task;
  int begin;
  int end;
};

// The non-template core: queue, batch formation, threads, stats. BatchFn processes one batch,
// stores each instance's result in its task and returns how many instances failed.
class BatchScheduler {
 public:
  using BatchFn = std::function<int64_t(std::span<const Slice> batch)>;

  static absl::StatusOr<std::unique_ptr<BatchScheduler>> Create(const BatcherOptions& options,
                                                                BatchFn process);
  ~BatchScheduler();

  absl::Status Enqueue(std::shared_ptr<Task> task);
  void Stop();
  BatcherStats stats() const;

 private:
  BatchScheduler(const BatcherOptions& options, BatchFn process);
  void ThreadLoop();
  // Why `task` must be dropped now (OK: it may run).
  absl::Status DeadReason(const Task& task, absl::Time now) const;
  // Marks `task` dropped: removes its unbatched instances from the count; schedules Finish when
  // none of its instances is in a batch. The caller removes it from queue_.
  void DropLocked(const std::shared_ptr<Task>& task, absl::Status why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes dropped-dead tasks from the whole queue (used when it is full).
  void PurgeDeadLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes up to max_batch_size instances from the head of the queue, dropping dead tasks.
  std::vector<Slice> FormBatchLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time Now() const;

  const BatcherOptions options_;
  const BatchFn process_;
  std::vector<std::thread> threads_;

  mutable absl::Mutex mu_;
  BatcherState state_ ABSL_GUARDED_BY(mu_) = BatcherState::kRunning;
  bool joining_ ABSL_GUARDED_BY(mu_) = false;  // one Stop() caller joins; the others wait
  std::deque<std::shared_ptr<Task>> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_instances_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t in_flight_instances_ ABSL_GUARDED_BY(mu_) = 0;
  // Dropped tasks waiting for a batch thread to call Finish.
  std::vector<std::shared_ptr<Task>> to_finish_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> batch_sizes_ ABSL_GUARDED_BY(mu_);  // index: batch size
  BatcherStats counters_ ABSL_GUARDED_BY(mu_);             // the totals; gauges filled by stats()
};

}  // namespace batcher_internal

// The typed batcher. Input: one instance (e.g. an encoded image); Output: its prediction.
template <typename Input, typename Output>
class DynamicBatcher {
 public:
  using Results = std::vector<absl::StatusOr<Output>>;
  // Processes one batch of 1..max_batch_size instances; returns exactly one result per input, in
  // order (a different count fails every instance of the batch with INTERNAL). Exceptions are
  // caught and fail the batch's instances with INTERNAL.
  using ProcessFn = std::function<Results(std::span<const Input* const> batch)>;
  // Receives the request's results (one per input, in submission order) or why it was dropped.
  using DoneFn = absl::AnyInvocable<void(absl::StatusOr<Results>)>;

  static absl::StatusOr<std::unique_ptr<DynamicBatcher>> Create(const BatcherOptions& options,
                                                                ProcessFn process) {
    if (!process) return absl::InvalidArgumentError("batcher needs a process function");
    auto batcher = std::unique_ptr<DynamicBatcher>(new DynamicBatcher(std::move(process)));
    DynamicBatcher* self = batcher.get();
    auto scheduler = batcher_internal::BatchScheduler::Create(
        options, [self](std::span<const batcher_internal::Slice> batch) {
          return self->ProcessBatch(batch);
        });
    if (!scheduler.ok()) return scheduler.status();
    batcher->scheduler_ = std::move(*scheduler);
    return batcher;
  }

  ~DynamicBatcher() { Stop(); }

  // Queues the request. OK: `done` will be called exactly once, on a batch thread. Not OK: the
  // request was refused and `done` will not be called (see the contract above).
  absl::Status Submit(std::vector<Input> inputs, const SubmitOptions& options, DoneFn done) {
    const int size = static_cast<int>(inputs.size());
    return scheduler_->Enqueue(
        std::make_shared<TypedTask>(size, options, std::move(inputs), std::move(done)));
  }

  // Submit and block the calling thread until done (for synchronous callers and tests). Refusals
  // come back as the error status.
  absl::StatusOr<Results> SubmitAndWait(std::vector<Input> inputs,
                                        const SubmitOptions& options = {}) {
    absl::Notification finished;
    absl::StatusOr<Results> out;
    absl::Status status = Submit(std::move(inputs), options, [&](absl::StatusOr<Results> results) {
      out = std::move(results);
      finished.Notify();
    });
    if (!status.ok()) return status;
    finished.WaitForNotification();
    return out;
  }

  // Graceful: processes everything queued, then stops the threads. Idempotent.
  void Stop() {
    if (scheduler_ != nullptr) scheduler_->Stop();
  }

  BatcherStats stats() const { return scheduler_->stats(); }

 private:
  class TypedTask final : public batcher_internal::Task {
   public:
    TypedTask(int size, const SubmitOptions& options, std::vector<Input> inputs, DoneFn done)
        : Task(size, options), inputs(std::move(inputs)), results(size), done(std::move(done)) {}
    void Finish(absl::Status status) override {
      if (status.ok()) {
        done(std::move(results));
      } else {
        done(std::move(status));
      }
    }
    std::vector<Input> inputs;
    // Filled by ProcessBatch; slices of one task touch disjoint elements.
    Results results;
    DoneFn done;
  };

  explicit DynamicBatcher(ProcessFn process) : process_(std::move(process)) {}

  int64_t ProcessBatch(std::span<const batcher_internal::Slice> batch) {
    std::vector<const Input*> inputs;
    for (const batcher_internal::Slice& slice : batch) {
      const auto* task = static_cast<const TypedTask*>(slice.task.get());
      for (int i = slice.begin; i < slice.end; ++i) inputs.push_back(&task->inputs[i]);
    }
    Results results;
    absl::Status batch_error;
    try {
      results = process_(std::span<const Input* const>(inputs.data(), inputs.size()));
      if (results.size() != inputs.size()) {
        batch_error = absl::InternalError("the batch process function returned " +
                                          std::to_string(results.size()) + " results for " +
                                          std::to_string(inputs.size()) + " inputs");
      }
    } catch (const std::exception& e) {
      batch_error =
          absl::InternalError(std::string("the batch process function threw: ") + e.what());
    } catch (...) {
      batch_error = absl::InternalError("the batch process function threw " +
                                        CurrentExceptionMessage());
    }
    if (!batch_error.ok()) batcher_internal::LogBatchFailure(batch_error, inputs.size());
    int64_t failed = 0;
    size_t k = 0;
    for (const batcher_internal::Slice& slice : batch) {
      auto* task = static_cast<TypedTask*>(slice.task.get());
      for (int i = slice.begin; i < slice.end; ++i, ++k) {
        if (batch_error.ok()) {
          task->results[i] = std::move(results[k]);
        } else {
          task->results[i] = batch_error;
        }
        if (!task->results[i].ok()) ++failed;
      }
    }
    return failed;
  }

  const ProcessFn process_;
  std::unique_ptr<batcher_internal::BatchScheduler> scheduler_;
};

}  // namespace tessera
