#include "control/replica_prober.h"

#include <algorithm>
#include <utility>

namespace tessera::control {

ProbePool::ProbePool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) workers_.emplace_back([this] { Work(); });
}

ProbePool::~ProbePool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& t : workers_) t.join();
}

void ProbePool::Submit(std::function<void()> probe) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(probe));
}

void ProbePool::Work() {
  while (true) {
    std::function<void()> probe;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing left
      probe = std::move(queue_.front());
      queue_.pop_front();
    }
    probe();
  }
}

bool ProbeSlot::Start(ProbePool& pool, std::shared_ptr<ReplicaClient> client,
                      absl::Duration timeout, bool with_status, absl::Time now) {
  {
    absl::MutexLock lock(&mu_);
    if (running_) return false;
    running_ = true;
    started_ = now;
    result_.reset();
  }
  pool.Submit([self = shared_from_this(), client = std::move(client), timeout, with_status, now] {
    ProbeResult result;
    result.started = now;
    absl::StatusOr<ReplicaHealth> health = client->Health(timeout);
    if (!health.ok()) {
      result.error = health.status().ToString();
    } else if (!health->ready) {
      result.error = "state " + health->state;
    } else {
      result.ready = true;
      if (with_status) {
        absl::StatusOr<ReplicaStatusInfo> status = client->Status(timeout);
        if (status.ok()) result.status = std::move(*status);
      }
    }
    absl::MutexLock lock(&self->mu_);
    self->result_ = std::move(result);
    self->running_ = false;
    self->started_ = absl::InfiniteFuture();
  });
  return true;
}

std::optional<ProbeResult> ProbeSlot::Take() {
  absl::MutexLock lock(&mu_);
  std::optional<ProbeResult> result = std::move(result_);
  result_.reset();
  return result;
}

bool ProbeSlot::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

absl::Time ProbeSlot::running_since() const {
  absl::MutexLock lock(&mu_);
  return started_;
}

}  // namespace tessera::control
