// Replica health and status probes, off the supervisor's reconcile thread. A probe is an HTTP
// call with a timeout; a replica that hangs (SIGSTOP, a wedged engine) makes its probe take the
// whole timeout, and the reconcile thread must not wait that long: it routes, starts and drains
// every other replica meanwhile. So the reconcile thread starts a probe (ProbeSlot::Start), goes
// on, and collects the result on a later step (ProbeSlot::Take); each replica has at most one
// probe in flight.
//
// Threads: ProbePool runs the probes on `threads` workers (a hung replica holds one of them for
// one timeout at a time). ProbeSlot is used by the reconcile thread and the worker that runs its
// probe; it may outlive the replica (the worker keeps it alive).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "control/replica_client.h"

namespace tessera::control {

class ProbePool {
 public:
  explicit ProbePool(int threads);
  // Lets queued probes run, then joins the workers (each probe ends within its timeout).
  ~ProbePool();
  ProbePool(const ProbePool&) = delete;
  ProbePool& operator=(const ProbePool&) = delete;

  void Submit(std::function<void()> probe);

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

struct ProbeResult {
  absl::Time started;
  bool ready = false;  // /health answered 200 READY
  // /status, when asked for and the replica was ready and answered.
  std::optional<ReplicaStatusInfo> status;
  std::string error;  // why not ready ("" when ready)
};

// Owned by shared_ptr: a running probe keeps its slot alive.
class ProbeSlot : public std::enable_shared_from_this<ProbeSlot> {
 public:
  // Starts GET /health (then GET /status when `with_status` and it is ready), each bounded by
  // `timeout`, unless a probe of this slot is still running (then returns false).
  bool Start(ProbePool& pool, std::shared_ptr<ReplicaClient> client, absl::Duration timeout,
             bool with_status, absl::Time now);
  // The finished probe's result, once (nullopt while running or when none was started).
  std::optional<ProbeResult> Take();
  bool running() const;
  // When the running probe started (InfiniteFuture when none runs).
  absl::Time running_since() const;

 private:
  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time started_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::optional<ProbeResult> result_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::control
