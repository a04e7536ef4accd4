#include "registry/operation_runner.h"

#include <algorithm>

#include "common/current_exception.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::registry {

void OperationContext::SetProgress(int32_t percent, const std::string& stage) {
  absl::Status s = operations_->SetProgress(name_, percent, stage);
  if (!s.ok()) spdlog::warn("operation {}: cannot record progress: {}", name_, s.ToString());
}

absl::StatusOr<std::unique_ptr<OperationRunner>> OperationRunner::Create(const Options& options) {
  if (options.operations == nullptr) {
    return absl::InvalidArgumentError("OperationRunner: operations is required");
  }
  if (options.threads < 1)
    return absl::InvalidArgumentError("OperationRunner: threads must be >= 1");
  std::unique_ptr<OperationRunner> runner(new OperationRunner(options));
  for (int i = 0; i < options.threads; ++i) {
    runner->workers_.emplace_back([r = runner.get()] { r->WorkerLoop(); });
  }
  return runner;
}

OperationRunner::~OperationRunner() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& task : queue_) task.token->Cancel();
    for (auto& token : running_) token->Cancel();
  }
  for (auto& t : workers_) t.join();
}

absl::Status OperationRunner::Submit(const Operation& operation, Work work) {
  auto token = std::make_shared<CancellationToken>();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      return absl::FailedPreconditionError(fmt::format(
          "{}: shutting down, operation {} not started", options_.name, operation.name));
    }
    options_.operations->RegisterCancellation(operation.name, token);
    queue_.push_back(Task{operation.name, token, std::move(work)});
  }
  return absl::OkStatus();
}

void OperationRunner::WaitIdle() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return queue_.empty() && busy_ == 0; };
  mu_.Await(absl::Condition(&idle));
}

void OperationRunner::WorkerLoop() {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      running_.push_back(task.token);
      ++busy_;
    }
    RunTask(task);
    {
      absl::MutexLock lock(&mu_);
      running_.erase(std::find(running_.begin(), running_.end(), task.token));
      --busy_;
    }
  }
}

void OperationRunner::RunTask(Task& task) {
  OperationContext ctx(options_.operations, task.name, task.token);
  absl::StatusOr<OperationResult> outcome = absl::CancelledError("operation cancelled");
  if (!task.token->cancelled()) {
    // The work is code reading artifacts and user input: whatever it throws fails this
    // operation with a clear error, and the worker goes on to the next.
    try {
      outcome = task.work(ctx);
    } catch (...) {
      const std::string what = CurrentExceptionMessage();
      spdlog::error("operation {} threw {}", task.name, what);
      outcome = absl::InternalError(fmt::format("internal error: the operation threw {}", what));
    }
  }
  if (!outcome.ok() && absl::IsCancelled(outcome.status())) {
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
    }
    if (stopping) {
      outcome = absl::UnavailableError("interrupted by a server shutdown; retry the request");
    }
  }
  if (!outcome.ok()) {
    spdlog::info("operation {} failed: {}", task.name, outcome.status().ToString());
  }
  absl::Status finished = options_.operations->Finish(task.name, outcome);
  if (!finished.ok()) {
    spdlog::error("operation {}: cannot record completion: {}", task.name, finished.ToString());
  }
  options_.operations->UnregisterCancellation(task.name);
}

}  // namespace tessera::registry
