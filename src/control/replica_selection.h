// Choosing a replica, and counting the requests each replica is serving.
//
// ReplicaLoad is one replica's in-flight counter. The supervisor creates it when the replica
// starts and hands the same shared_ptr to every routing-table snapshot, so the count survives table
// swaps. Request threads hold a ReplicaLease (RAII) while a request is at the replica: acquire
// increments, destruction decrements. Scale-down and undeploy drain a replica by publishing a table
// without it, then StartDrain() + AwaitDrained(): no new lease can be acquired once draining
// starts, and AwaitDrained returns when the last lease is gone (the TF Serving servable-handle
// idea).
//
// Cost: acquire and release are two atomic operations each; release takes a mutex only for the last
// lease of a draining replica (to wake the drainer).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tessera {

// Least-loaded choice. `in_flight[i]` is replica i's in-flight count, or negative when replica i is
// not eligible (excluded, draining). Returns the index of an eligible replica with the fewest
// in-flight requests; among several such, the one at position floor(u * ties) in index order, so a
// uniform `u` in [0, 1) spreads load across equally loaded replicas. Returns -1 when none is
// eligible. Pure and deterministic in (in_flight, u).
int PickLeastLoaded(std::span<const int64_t> in_flight, double u);

// One replica's in-flight counter and drain state. Thread-safe; never moves (owned by shared_ptr).
class ReplicaLoad {
 public:
  ReplicaLoad() = default;
  ReplicaLoad(const ReplicaLoad&) = delete;
  ReplicaLoad& operator=(const ReplicaLoad&) = delete;

  // Requests currently holding a lease (approximate while leases come and go).
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  bool draining() const { return draining_.load(std::memory_order_relaxed); }

  // From now on TryAcquire fails. Idempotent; cannot be undone (a drained replica is stopped).
  void StartDrain();
  // StartDrain(), then blocks until no lease is held or `timeout` passes. Returns true when the
  // replica is idle. Called by the supervisor's thread, never by a request thread.
  bool AwaitDrained(absl::Duration timeout);

 private:
  friend class ReplicaLease;
  // Increments unless draining. Sequentially consistent with StartDrain: either the acquirer sees
  // the drain and backs off, or the drainer sees the lease and waits for it.
  bool TryAcquire();
  void Release();

  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  absl::Mutex mu_;  // Only to wake AwaitDrained; guards no data (the state is atomic).
};

// Holds one in-flight slot on a replica for its lifetime. Move-only.
class ReplicaLease {
 public:
  // nullopt when the replica is draining (or `load` is null).
  static std::optional<ReplicaLease> TryAcquire(std::shared_ptr<ReplicaLoad> load);

  ReplicaLease(ReplicaLease&& other) noexcept = default;
  ReplicaLease& operator=(ReplicaLease&& other) noexcept;
  ReplicaLease(const ReplicaLease&) = delete;
  ReplicaLease& operator=(const ReplicaLease&) = delete;
  ~ReplicaLease() { Reset(); }

  // Releases the slot early (idempotent).
  void Reset();
  bool held() const { return load_ != nullptr; }
  const ReplicaLoad* load() const { return load_.get(); }

 private:
  explicit ReplicaLease(std::shared_ptr<ReplicaLoad> load) : load_(std::move(load)) {}
  std::shared_ptr<ReplicaLoad> load_;
};

}  // namespace tessera
