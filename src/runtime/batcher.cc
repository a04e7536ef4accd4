#include "runtime/batcher.h"

#include <algorithm>

#include "common/current_exception.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace tessera {

absl::Status ValidateBatcherOptions(const BatcherOptions& o) {
  if (o.max_batch_size < 1) {
    return absl::InvalidArgumentError(
        fmt::format("max_batch_size must be at least 1, got {}", o.max_batch_size));
  }
  if (o.max_queue_delay_us < 0) {
    return absl::InvalidArgumentError(
        fmt::format("max_queue_delay_us must not be negative, got {}", o.max_queue_delay_us));
  }
  if (o.max_queue_size < o.max_batch_size) {
    return absl::InvalidArgumentError(fmt::format(
        "max_queue_size ({}) must be at least max_batch_size ({}), or full batches never form",
        o.max_queue_size, o.max_batch_size));
  }
  if (o.num_batch_threads < 1 || o.num_batch_threads > 64) {
    return absl::InvalidArgumentError(
        fmt::format("num_batch_threads must be between 1 and 64, got {}", o.num_batch_threads));
  }
  return absl::OkStatus();
}

std::string_view BatcherStateName(BatcherState state) {
  switch (state) {
    case BatcherState::kRunning:
      return "RUNNING";
    case BatcherState::kDraining:
      return "DRAINING";
    case BatcherState::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

nlohmann::json BatcherStatsToJson(const BatcherStats& s) {
  nlohmann::json sizes = nlohmann::json::object();
  for (const auto& [size, count] : s.batch_sizes) sizes[std::to_string(size)] = count;
  return nlohmann::json{
      {"state", std::string(BatcherStateName(s.state))},
      {"batchSizes", sizes},
      {"batches", s.batches},
      {"processedInstances", s.processed_instances},
      {"failedInstances", s.failed_instances},
      {"submittedRequests", s.submitted_requests},
      {"completedRequests", s.completed_requests},
      {"rejectedRequests", s.rejected_requests},
      {"droppedDeadline", s.dropped_deadline},
      {"droppedCancelled", s.dropped_cancelled},
      {"queuedInstances", s.queued_instances},
      {"queuedRequests", s.queued_requests},
      {"inFlightInstances", s.in_flight_instances},
  };
}

namespace batcher_internal {

namespace {

// DoneFn is the caller's code: an exception from it must not end the batch thread (every later
// request would hang). It is logged; the request it belonged to is the caller's to answer.
void FinishGuarded(Task& task, const absl::Status& status) {
  try {
    task.Finish(status);
  } catch (...) {
    spdlog::error("batcher: a request's completion callback threw {}", CurrentExceptionMessage());
  }
}

}  // namespace

void LogBatchFailure(const absl::Status& status, size_t instances) {
  spdlog::error("batcher: a batch of {} instances failed: {}", instances, status.ToString());
}

absl::StatusOr<std::unique_ptr<BatchScheduler>> BatchScheduler::Create(
    const BatcherOptions& options, BatchFn process) {
  absl::Status status = ValidateBatcherOptions(options);
  if (!status.ok()) return status;
  if (!process) return absl::InvalidArgumentError("batch scheduler needs a process function");
  auto scheduler = std::unique_ptr<BatchScheduler>(new BatchScheduler(options, std::move(process)));
  for (int i = 0; i < options.num_batch_threads; ++i) {
    scheduler->threads_.emplace_back([s = scheduler.get()] { s->ThreadLoop(); });
  }
  return scheduler;
}

BatchScheduler::BatchScheduler(const BatcherOptions& options, BatchFn process)
    : options_(options),
      process_(std::move(process)),
      batch_sizes_(static_cast<size_t>(options.max_batch_size) + 1, 0) {}

BatchScheduler::~BatchScheduler() { Stop(); }

absl::Time BatchScheduler::Now() const {
  return options_.clock != nullptr ? options_.clock->Now() : absl::Now();
}

absl::Status BatchScheduler::DeadReason(const Task& task, absl::Time now) const {
  if (task.cancellation_ != nullptr && task.cancellation_->cancelled()) {
    return absl::CancelledError("the request was cancelled before it was processed");
  }
  if (task.deadline_ <= now) {
    return absl::DeadlineExceededError(
        "the request's deadline passed before it was processed (waiting in the batch queue)");
  }
  return absl::OkStatus();
}

absl::Status BatchScheduler::Enqueue(std::shared_ptr<Task> task) {
  if (task == nullptr || task->size() < 1) {
    return absl::InvalidArgumentError("a request needs at least one instance");
  }
  absl::MutexLock lock(&mu_);
  if (state_ != BatcherState::kRunning) {
    return absl::UnavailableError(
        fmt::format("the batcher is {}: it accepts no new requests",
                    state_ == BatcherState::kDraining ? "draining" : "stopped"));
  }
  if (task->size() > options_.max_queue_size) {
    return absl::InvalidArgumentError(
        fmt::format("the request has {} instances; at most {} can be queued (max_queue_size)",
                    task->size(), options_.max_queue_size));
  }
  const absl::Time now = Now();
  absl::Status dead = DeadReason(*task, now);
  if (!dead.ok()) {
    ++(dead.code() == absl::StatusCode::kCancelled ? counters_.dropped_cancelled
                                                   : counters_.dropped_deadline);
    return dead;
  }
  if (queued_instances_ + task->size() > options_.max_queue_size) {
    PurgeDeadLocked(now);
    if (queued_instances_ + task->size() > options_.max_queue_size) {
      ++counters_.rejected_requests;
      return absl::ResourceExhaustedError(fmt::format(
          "the batch queue is full ({} of {} instances queued, this request has {}); retry later",
          queued_instances_, options_.max_queue_size, task->size()));
    }
  }
  task->enqueue_time_ = now;
  queued_instances_ += task->size();
  ++counters_.submitted_requests;
  queue_.push_back(std::move(task));
  return absl::OkStatus();  // Unlocking wakes a batch thread whose condition now holds.
}

void BatchScheduler::DropLocked(const std::shared_ptr<Task>& task, absl::Status why) {
  ++(why.code() == absl::StatusCode::kCancelled ? counters_.dropped_cancelled
                                                : counters_.dropped_deadline);
  queued_instances_ -= task->size_ - task->next_;
  task->next_ = task->size_;  // nothing more of it will be batched
  task->failure_ = std::move(why);
  // With instances still in a batch, the batch's completion finishes the task instead.
  if (task->outstanding_ == 0) to_finish_.push_back(task);
}

void BatchScheduler::PurgeDeadLocked(absl::Time now) {
  std::deque<std::shared_ptr<Task>> alive;
  for (std::shared_ptr<Task>& task : queue_) {
    absl::Status dead = DeadReason(*task, now);
    if (dead.ok()) {
      alive.push_back(std::move(task));
    } else {
      DropLocked(task, std::move(dead));
    }
  }
  queue_.swap(alive);
}

std::vector<Slice> BatchScheduler::FormBatchLocked(absl::Time now) {
  std::vector<Slice> batch;
  int room = options_.max_batch_size;
  while (room > 0 && !queue_.empty()) {
    std::shared_ptr<Task> task = queue_.front();
    absl::Status dead = DeadReason(*task, now);
    if (!dead.ok()) {
      queue_.pop_front();
      DropLocked(task, std::move(dead));
      continue;
    }
    const int take = std::min(room, task->size_ - task->next_);
    batch.push_back(Slice{task, task->next_, task->next_ + take});
    task->next_ += take;
    task->outstanding_ += take;
    queued_instances_ -= take;
    in_flight_instances_ += take;
    room -= take;
    if (task->next_ == task->size_) queue_.pop_front();
  }
  return batch;
}

void BatchScheduler::ThreadLoop() {
  if (options_.thread_init) {
    try {
      options_.thread_init();
    } catch (...) {
      spdlog::error("batcher: thread_init threw {}; the thread serves on",
                    CurrentExceptionMessage());
    }
  }
  const absl::Duration delay = absl::Microseconds(options_.max_queue_delay_us);
  for (;;) {
    std::vector<Slice> batch;
    std::vector<std::shared_ptr<Task>> finish;
    bool exit = false;
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        if (!to_finish_.empty()) break;
        if (queued_instances_ > 0) {
          const absl::Time now = Now();
          const absl::Time due = queue_.front()->enqueue_time_ + delay;
          if (queued_instances_ >= options_.max_batch_size || state_ != BatcherState::kRunning ||
              now >= due) {
            batch = FormBatchLocked(now);
            if (!batch.empty() || !to_finish_.empty()) break;
            continue;  // everything queued was dead
          }
          auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            return !to_finish_.empty() || queued_instances_ >= options_.max_batch_size ||
                   state_ != BatcherState::kRunning;
          };
          mu_.AwaitWithTimeout(absl::Condition(&ready), due - now);
          continue;
        }
        if (state_ != BatcherState::kRunning) {
          exit = true;  // draining and nothing left
          break;
        }
        auto work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !to_finish_.empty() || queued_instances_ > 0 || state_ != BatcherState::kRunning;
        };
        mu_.Await(absl::Condition(&work));
      }
      finish.swap(to_finish_);
      counters_.completed_requests += static_cast<int64_t>(finish.size());
    }
    for (const std::shared_ptr<Task>& task : finish) FinishGuarded(*task, task->failure_);
    finish.clear();

    if (!batch.empty()) {
      int64_t size = 0;
      for (const Slice& slice : batch) size += slice.end - slice.begin;
      const int64_t failed = process_(batch);
      {
        absl::MutexLock lock(&mu_);
        in_flight_instances_ -= size;
        ++counters_.batches;
        ++batch_sizes_[static_cast<size_t>(size)];
        counters_.processed_instances += size;
        counters_.failed_instances += failed;
        for (const Slice& slice : batch) {
          Task& task = *slice.task;
          task.outstanding_ -= slice.end - slice.begin;
          if (task.outstanding_ == 0 && task.next_ == task.size_) finish.push_back(slice.task);
        }
        counters_.completed_requests += static_cast<int64_t>(finish.size());
      }
      batch.clear();  // drop our references before the callbacks run
      for (const std::shared_ptr<Task>& task : finish) FinishGuarded(*task, task->failure_);
    }
    if (exit) return;
  }
}

void BatchScheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (state_ == BatcherState::kStopped) return;
    if (joining_) {
      auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return state_ == BatcherState::kStopped;
      };
      mu_.Await(absl::Condition(&stopped));
      return;
    }
    joining_ = true;
    state_ = BatcherState::kDraining;
  }
  for (std::thread& t : threads_) t.join();
  absl::MutexLock lock(&mu_);
  state_ = BatcherState::kStopped;
}

BatcherStats BatchScheduler::stats() const {
  absl::MutexLock lock(&mu_);
  BatcherStats s = counters_;
  s.state = state_;
  for (size_t size = 1; size < batch_sizes_.size(); ++size) {
    if (batch_sizes_[size] > 0) s.batch_sizes[static_cast<int>(size)] = batch_sizes_[size];
  }
  s.queued_instances = queued_instances_;
  s.queued_requests = static_cast<int64_t>(queue_.size());
  s.in_flight_instances = in_flight_instances_;
  return s;
}

}  // namespace batcher_internal
}  // namespace tessera
