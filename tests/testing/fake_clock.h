// FakeClock: a tessera::Clock whose time moves only when a test says so.
//
// Thread-safe: any thread may call Now(), SleepFor(), Advance() and the waiting helpers.
// Two sleep behaviours, chosen at construction:
//   kAdvanceOnSleep     SleepFor(d) advances the clock by d and returns at once. For
//   single-threaded
//                       code that sleeps (retry backoff, polling loops): tests run instantly.
//   kBlockUntilAdvanced SleepFor(d) blocks until another thread has advanced the clock to at least
//                       the wake-up time. For concurrency tests: the test drives time with
//                       Advance() and uses WaitForSleepers(n) to know the code under test is
//                       asleep.
#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace tessera::testing {

class FakeClock final : public Clock {
 public:
  enum class SleepMode {
    kAdvanceOnSleep,
    kBlockUntilAdvanced,
  };

  // A fixed, arbitrary start (2023-11-14T22:13:20Z) so printed times are stable across runs.
  static absl::Time DefaultStart() { return absl::FromUnixSeconds(1'700'000'000); }

  explicit FakeClock(absl::Time start = DefaultStart(), SleepMode mode = SleepMode::kAdvanceOnSleep)
      : now_(start), mode_(mode) {}
  explicit FakeClock(SleepMode mode) : FakeClock(DefaultStart(), mode) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  void SleepFor(absl::Duration d) override {
    absl::MutexLock lock(&mu_);
    if (d <= absl::ZeroDuration()) return;
    if (mode_ == SleepMode::kAdvanceOnSleep) {
      now_ += d;
      return;
    }
    const absl::Time wake = now_ + d;
    ++sleepers_;
    auto woken = [this, wake]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return now_ >= wake; };
    mu_.Await(absl::Condition(&woken));
    --sleepers_;
  }

  // Moves time forward by `d` (>= 0) and wakes sleepers whose time has come.
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    if (d > absl::ZeroDuration()) now_ += d;
  }

  // Sets the time; never moves it backwards (a Clock is monotonic).
  void SetTime(absl::Time t) {
    absl::MutexLock lock(&mu_);
    if (t > now_) now_ = t;
  }

  // Threads blocked in SleepFor right now (kBlockUntilAdvanced only).
  int sleepers() const {
    absl::MutexLock lock(&mu_);
    return sleepers_;
  }

  // Blocks until at least `n` threads are inside SleepFor (kBlockUntilAdvanced only).
  void WaitForSleepers(int n) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return sleepers_ >= n; };
    mu_.Await(absl::Condition(&enough));
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
  const SleepMode mode_;
};

}  // namespace tessera::testing
