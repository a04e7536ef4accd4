// A fixed pool of threads for request handlers that block (SQLite transactions with an fsync per
// commit, waiting on an operation). HttpServer io threads must never block (common/http/handler.h),
// so the control-plane routes hand each request here together with its Responder.
//
// A task that throws (any type) is logged at error level and the worker goes on; request tasks
// should catch their own exceptions first, to answer with the request id (see
// common/http/exception_response.h).
//
// Thread-safe. Destruction stops accepting, lets the running tasks finish, drops queued ones
// (their Responders then answer 500, or nothing once the server is shut down), and joins.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tessera::serving::rest {

class BlockingExecutor {
 public:
  struct Options {
    int threads = 4;
    // Tasks waiting beyond this are refused (Submit returns false): the caller answers 503
    // instead of queueing without bound.
    int max_queued = 1024;
  };

  explicit BlockingExecutor(const Options& options);
  ~BlockingExecutor();
  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;

  // Queues `task`. False when the queue is full or the executor is stopping.
  bool Submit(std::function<void()> task);

 private:
  void WorkerLoop();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace tessera::serving::rest
