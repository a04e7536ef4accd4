// FakeRandom: a tessera::RandomSource that returns a scripted sequence of draws, cycling when it
// reaches the end. Thread-safe. Counts the draws so tests can assert a policy drew (or did not).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "control/random_source.h"

namespace tessera::testing {

class FakeRandom final : public RandomSource {
 public:
  // `values` must be non-empty and each in [0, 1).
  explicit FakeRandom(std::vector<double> values) : values_(std::move(values)) {}
  explicit FakeRandom(double value) : values_{value} {}

  double Uniform() override {
    absl::MutexLock lock(&mu_);
    const double v = values_[next_ % values_.size()];
    ++next_;
    return v;
  }

  int64_t draws() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(next_);
  }

 private:
  mutable absl::Mutex mu_;
  const std::vector<double> values_;
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tessera::testing
