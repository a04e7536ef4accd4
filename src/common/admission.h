// Admission by bytes: a budget of bytes held by admitted work (request bodies in flight in
// `tessera serve`, images queued in a replica's batcher), and how long a refused client should
// wait before retrying, estimated from how fast the budget drains.
//
// Counts alone do not bound memory: 4096 queued requests of 64 MiB each are 256 GiB. A budget in
// bytes does, whatever the mix of sizes. Thread-safe; every method is a short critical section.
#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tessera {

class ByteBudget {
 public:
  // `limit_bytes` <= 0: unlimited (TryAcquire always succeeds; the bytes are still counted).
  explicit ByteBudget(int64_t limit_bytes) : limit_(limit_bytes) {}

  // Takes `bytes` if they fit under the limit; false (nothing taken) otherwise. A single request
  // larger than the whole limit is admitted when nothing else holds bytes, so a limit below the
  // largest acceptable body degrades to one-at-a-time instead of refusing it forever.
  bool TryAcquire(int64_t bytes);
  // Gives back what TryAcquire took for work that was done; feeds the drain-rate estimate.
  void Release(int64_t bytes);
  // Gives back what TryAcquire took for work that was refused later (not a drain).
  void Unwind(int64_t bytes);

  // Seconds a refused client should wait: the bytes held divided by the measured drain rate,
  // rounded up, within [1, 60]. 1 before any drain was measured.
  int RetryAfterSeconds() const;

  int64_t limit() const { return limit_; }
  int64_t in_use() const;
  int64_t refused() const;

 private:
  // Bytes released per second, an exponential moving average over ~1 s windows.
  void UpdateRateLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t limit_;
  mutable absl::Mutex mu_;
  int64_t in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t window_released_ ABSL_GUARDED_BY(mu_) = 0;
  double rate_bytes_per_s_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tessera
