#include "control/replica_selection.h"

#include <cmath>
#include <limits>
#include <utility>

namespace tessera {

int PickLeastLoaded(std::span<const int64_t> in_flight, double u) {
  int64_t least = std::numeric_limits<int64_t>::max();
  int ties = 0;
  for (int64_t n : in_flight) {
    if (n < 0) continue;
    if (n < least) {
      least = n;
      ties = 1;
    } else if (n == least) {
      ++ties;
    }
  }
  if (ties == 0) return -1;
  if (!(u > 0.0)) u = 0.0;  // also catches NaN
  int k = static_cast<int>(std::floor(u * ties));
  if (k >= ties) k = ties - 1;
  for (size_t i = 0; i < in_flight.size(); ++i) {
    if (in_flight[i] != least) continue;
    if (k == 0) return static_cast<int>(i);
    --k;
  }
  return -1;  // unreachable
}

void ReplicaLoad::StartDrain() { draining_.store(true, std::memory_order_seq_cst); }

bool ReplicaLoad::AwaitDrained(absl::Duration timeout) {
  StartDrain();
  absl::MutexLock lock(&mu_);
  auto idle = [this] { return in_flight_.load(std::memory_order_seq_cst) == 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

bool ReplicaLoad::TryAcquire() {
  in_flight_.fetch_add(1, std::memory_order_seq_cst);
  if (draining_.load(std::memory_order_seq_cst)) {
    Release();
    return false;
  }
  return true;
}

void ReplicaLoad::Release() {
  const int64_t before = in_flight_.fetch_sub(1, std::memory_order_seq_cst);
  if (before == 1 && draining_.load(std::memory_order_seq_cst)) {
    // The drainer waits on a condition that absl::Mutex re-evaluates when the mutex is released.
    absl::MutexLock lock(&mu_);
  }
}

std::optional<ReplicaLease> ReplicaLease::TryAcquire(std::shared_ptr<ReplicaLoad> load) {
  if (load == nullptr || !load->TryAcquire()) return std::nullopt;
  return ReplicaLease(std::move(load));
}

ReplicaLease& ReplicaLease::operator=(ReplicaLease&& other) noexcept {
  if (this != &other) {
    Reset();
    load_ = std::move(other.load_);
  }
  return *this;
}

void ReplicaLease::Reset() {
  if (load_ != nullptr) {
    load_->Release();
    load_.reset();
  }
}

}  // namespace tessera
