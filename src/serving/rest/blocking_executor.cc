#include "serving/rest/blocking_executor.h"

#include <algorithm>

#include "common/current_exception.h"
#include "spdlog/spdlog.h"

namespace tessera::serving::rest {

BlockingExecutor::BlockingExecutor(const Options& options) : options_(options) {
  const int threads = std::max(1, options_.threads);
  workers_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

BlockingExecutor::~BlockingExecutor() {
  std::deque<std::function<void()>> dropped;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  for (std::thread& t : workers_) t.join();
  // `dropped` is destroyed here, outside the lock: destroying a task may run Responder code.
}

bool BlockingExecutor::Submit(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || static_cast<int>(queue_.size()) >= options_.max_queued) return false;
  queue_.push_back(std::move(task));
  return true;
}

bool BlockingExecutor::HasWorkOrStopping() const { return stopping_ || !queue_.empty(); }

void BlockingExecutor::WorkerLoop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &BlockingExecutor::HasWorkOrStopping));
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    // The last line of defence: tasks that serve a request catch their own exceptions and
    // answer (they know the request id). Anything that still escapes is logged; the worker
    // lives on, and the task's Responder, destroyed unanswered, answers 500.
    try {
      task();
    } catch (...) {
      spdlog::error("blocking executor: a task threw {}", CurrentExceptionMessage());
    }
  }
}

}  // namespace tessera::serving::rest
