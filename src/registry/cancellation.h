// Cooperative cancellation for long-running operations: the operation's worker polls
// `cancelled()` between steps (files copied, replicas checked) and returns CANCELLED.
#pragma once

#include <atomic>
#include <memory>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tessera::registry {

// Shared between the canceller (OperationService::Cancel, shutdown) and the worker; copy the
// shared_ptr. Thread-safe.
class CancellationToken {
 public:
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_.store(true, std::memory_order_release);
  }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // CANCELLED when cancelled, else OK: `RETURN_IF_ERROR(token.Check());`.
  absl::Status Check() const {
    return cancelled() ? absl::CancelledError("operation cancelled") : absl::OkStatus();
  }
  // Sleeps up to `d`, waking early on cancellation. Returns true if cancelled.
  bool WaitFor(absl::Duration d) const {
    absl::MutexLock lock(&mu_);
    auto is_cancelled = [this] { return cancelled_.load(std::memory_order_acquire); };
    mu_.AwaitWithTimeout(absl::Condition(&is_cancelled), d);
    return cancelled();
  }

 private:
  mutable absl::Mutex mu_;
  std::atomic<bool> cancelled_{false};
};

using CancellationTokenPtr = std::shared_ptr<CancellationToken>;

}  // namespace tessera::registry
