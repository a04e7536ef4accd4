// The random source injected into routing policies (traffic split, replica tie-breaks), so tests
// can script the draws (tests/testing/fake_random.h) and production can seed from the OS.
#pragma once

#include <cstdint>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tessera {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // A uniform draw in [0, 1). Implementations document whether they are thread-safe; the router
  // calls it from request threads, so the one it is given must be.
  virtual double Uniform() = 0;
};

// A seeded Mersenne Twister behind a mutex: thread-safe and deterministic for a given seed and call
// order. Cost: an uncontended lock plus one draw (tens of nanoseconds), negligible next to a
// prediction.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  // Seeded from std::random_device.
  static uint64_t OsSeed() {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }

  double Uniform() override {
    absl::MutexLock lock(&mu_);
    // 53 random bits -> a double in [0, 1); never returns 1.0 (std::generate_canonical may).
    return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  }

 private:
  absl::Mutex mu_;
  std::mt19937_64 engine_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera
