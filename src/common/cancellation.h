// A request's cancellation flag, shared by whoever learns that its client went away (the HTTP
// server when the peer closes its connection, a gRPC context) and whoever could still skip work
// for it (the router's call to a replica, the replica's batcher before compute). Thread-safe.
#pragma once

#include <atomic>
#include <memory>

namespace tessera {

class CancellationToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

using CancellationTokenPtr = std::shared_ptr<const CancellationToken>;

}  // namespace tessera
