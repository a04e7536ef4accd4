#include "common/admission.h"

#include <algorithm>
#include <cmath>

namespace tessera {
namespace {

constexpr absl::Duration kRateWindow = absl::Seconds(1);
constexpr double kRateSmoothing = 0.5;  // weight of the newest window
constexpr int kMaxRetryAfterSeconds = 60;

}  // namespace

bool ByteBudget::TryAcquire(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  const bool fits = limit_ <= 0 || in_use_ + bytes <= limit_ || in_use_ == 0;
  if (!fits) {
    ++refused_;
    return false;
  }
  in_use_ += bytes;
  return true;
}

void ByteBudget::Release(int64_t bytes) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  in_use_ = std::max<int64_t>(0, in_use_ - bytes);
  UpdateRateLocked(now);
  window_released_ += bytes;
}

void ByteBudget::UpdateRateLocked(absl::Time now) {
  if (window_start_ == absl::InfinitePast()) {
    window_start_ = now;
    return;
  }
  const absl::Duration elapsed = now - window_start_;
  if (elapsed < kRateWindow) return;
  const double rate = static_cast<double>(window_released_) / absl::ToDoubleSeconds(elapsed);
  rate_bytes_per_s_ = rate_bytes_per_s_ == 0
                          ? rate
                          : kRateSmoothing * rate + (1 - kRateSmoothing) * rate_bytes_per_s_;
  window_start_ = now;
  window_released_ = 0;
}

void ByteBudget::Unwind(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  in_use_ = std::max<int64_t>(0, in_use_ - bytes);
}

int ByteBudget::RetryAfterSeconds() const {
  absl::MutexLock lock(&mu_);
  // The current, unfinished window counts too: early in a flood it is the only measurement.
  double rate = rate_bytes_per_s_;
  if (window_start_ != absl::InfinitePast()) {
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - window_start_);
    if (elapsed > 0.05 && window_released_ > 0) {
      rate = std::max(rate, static_cast<double>(window_released_) / elapsed);
    }
  }
  if (rate <= 0) return 1;
  const double seconds = std::ceil(static_cast<double>(in_use_) / rate);
  return static_cast<int>(std::clamp<double>(seconds, 1, kMaxRetryAfterSeconds));
}

int64_t ByteBudget::in_use() const {
  absl::MutexLock lock(&mu_);
  return in_use_;
}

int64_t ByteBudget::refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

}  // namespace tessera
