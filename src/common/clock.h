// Time source injected into every policy (autoscaler, reconciler, operations) so tests can use a
// FakeClock (tests/testing/fake_clock.h). Implementations must be thread-safe.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tessera {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Blocks the calling thread for `d` of this clock's time.
  virtual void SleepFor(absl::Duration d) = 0;
};

// Wall time. Stateless; one instance can be shared.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
};

}  // namespace tessera
