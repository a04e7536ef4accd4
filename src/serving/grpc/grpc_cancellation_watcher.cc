#include "serving/grpc/grpc_cancellation_watcher.h"

#include <chrono>

#include "absl/time/time.h"

namespace tessera::serving {

GrpcCancellationWatcher::GrpcCancellationWatcher() : thread_([this] { Loop(); }) {}

GrpcCancellationWatcher::~GrpcCancellationWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

std::unique_ptr<GrpcCancellationWatcher::Watch> GrpcCancellationWatcher::Start(
    const grpc::ServerContext* context) {
  auto token = std::make_shared<CancellationToken>();
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  watched_.emplace(id, Watched{context, token});
  return std::unique_ptr<Watch>(new Watch(this, id, token));
}

GrpcCancellationWatcher::Watch::~Watch() { watcher_->Stop(id_); }

void GrpcCancellationWatcher::Stop(uint64_t id) {
  absl::MutexLock lock(&mu_);
  watched_.erase(id);
}

bool GrpcCancellationWatcher::HasWork() const { return stopping_ || !watched_.empty(); }

void GrpcCancellationWatcher::Loop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(this, &GrpcCancellationWatcher::HasWork));  // asleep while idle
    if (stopping_) return;
    // IsCancelled is also true once the call's deadline passed; that is the deadline's 504
    // (the predict path has its own timer for it), not a client that went away.
    const auto now = std::chrono::system_clock::now();
    for (auto& [id, watched] : watched_) {
      if (!watched.token->cancelled() && now < watched.context->deadline() &&
          watched.context->IsCancelled()) {
        watched.token->Cancel();
      }
    }
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(10));
  }
}

}  // namespace tessera::serving
