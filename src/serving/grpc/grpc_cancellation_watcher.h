// A sync gRPC call's cancellation (the client cancelled or went away, its connection reset) as
// the CancellationToken the predict path watches (predict_context.h), so that a KServe gRPC
// request whose client left is dropped in the replica before compute, as a REST one is. The sync
// API offers no callback for it, only ServerContext::IsCancelled (thread-safe) to poll: one thread
// polls every call being watched every 10 ms, and sleeps while there is none.
#pragma once

#include <grpcpp/server_context.h>

#include <cstdint>
#include <map>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/cancellation.h"

namespace tessera::serving {

class GrpcCancellationWatcher {
 public:
  GrpcCancellationWatcher();
  ~GrpcCancellationWatcher();
  GrpcCancellationWatcher(const GrpcCancellationWatcher&) = delete;
  GrpcCancellationWatcher& operator=(const GrpcCancellationWatcher&) = delete;

  // Watching one call, until destroyed (before the call returns: `context` must outlive it).
  class Watch {
   public:
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    // Cancelled once the call is.
    const CancellationTokenPtr& token() const { return token_; }

   private:
    friend class GrpcCancellationWatcher;
    Watch(GrpcCancellationWatcher* watcher, uint64_t id, CancellationTokenPtr token)
        : watcher_(watcher), id_(id), token_(std::move(token)) {}
    GrpcCancellationWatcher* watcher_;
    uint64_t id_;
    CancellationTokenPtr token_;
  };

  std::unique_ptr<Watch> Start(const grpc::ServerContext* context);

 private:
  struct Watched {
    const grpc::ServerContext* context;
    std::shared_ptr<CancellationToken> token;
  };
  void Loop();
  void Stop(uint64_t id);
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<uint64_t, Watched> watched_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

}  // namespace tessera::serving
