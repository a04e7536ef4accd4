// A small thread pool that runs the work of long-running operations (uploads, deploys) off the
// request thread, and completes each operation with the work's outcome.
//
// Each service that starts operations owns one runner. Submit() registers the operation's
// cancellation token with OperationService (so CancelOperation reaches it) and queues the work;
// a worker runs it (at once CANCELLED if it was cancelled while queued) and calls
// OperationService::Finish with the result. Destruction cancels queued and running work, waits
// for the workers, and completes what it interrupted with UNAVAILABLE ("interrupted by a server
// shutdown; retry the request"), so no operation is left running in the store.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "registry/cancellation.h"
#include "registry/operation.h"
#include "registry/operation_service.h"

namespace tessera::registry {

// What the work of one operation sees. Used on the worker thread only.
class OperationContext {
 public:
  OperationContext(OperationService* operations, std::string name, CancellationTokenPtr token)
      : operations_(operations), name_(std::move(name)), token_(std::move(token)) {}

  const std::string& name() const { return name_; }
  const CancellationToken& cancel() const { return *token_; }
  // Records progress in the operation's metadata (best effort: failures are logged).
  void SetProgress(int32_t percent, const std::string& stage);

 private:
  OperationService* operations_;
  std::string name_;
  CancellationTokenPtr token_;
};

class OperationRunner {
 public:
  // An exception of any type from a Work fails its operation with INTERNAL naming it (logged at
  // error level); the worker goes on with the next operation.
  using Work = std::function<absl::StatusOr<OperationResult>(OperationContext&)>;

  struct Options {
    OperationService* operations = nullptr;  // not owned; must outlive the runner
    int threads = 2;
    std::string name = "operations";  // for logs
  };

  static absl::StatusOr<std::unique_ptr<OperationRunner>> Create(const Options& options);
  ~OperationRunner();

  // Queues `work` for `operation` (recorded by OperationService::Begin). FAILED_PRECONDITION once
  // shutting down.
  absl::Status Submit(const Operation& operation, Work work);

  // Blocks until nothing is queued or running (tests, orderly shutdown).
  void WaitIdle();

 private:
  struct Task {
    std::string name;
    CancellationTokenPtr token;
    Work work;
  };

  explicit OperationRunner(const Options& options) : options_(options) {}
  void WorkerLoop();
  void RunTask(Task& task);

  const Options options_;
  std::vector<std::thread> workers_;
  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<CancellationTokenPtr> running_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tessera::registry
