// Long-running operations (google.longrunning as Vertex AI serves it): Get, List, Wait, Cancel,
// Delete for clients; Begin / Finish / progress and cancellation registration for the services
// that run operations (ModelService, EndpointService, through OperationRunner).
//
// Restart rule (chosen over resuming): an operation that was not done when the server stopped,
// however it stopped, is completed at the next start with UNAVAILABLE "interrupted by a server
// restart; retry the request" (Create does this). Nothing an interrupted operation left behind
// counts: uploads commit their version in the same transaction that completes the operation;
// the artifact sweep removes their files; EndpointService rolls back their deployed models.
//
// Thread-safe. Lifetime: create once per process before any operation starts; outlive every
// service and runner that uses it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "registry/cancellation.h"
#include "registry/list_query.h"
#include "registry/metadata_store.h"
#include "registry/operation.h"

namespace tessera::registry {

class OperationService {
 public:
  struct Options {
    MetadataStore* store = nullptr;  // not owned
    Clock* clock = nullptr;          // not owned
  };

  // Completes every operation left unfinished by a previous run (see the restart rule above).
  static absl::StatusOr<std::unique_ptr<OperationService>> Create(const Options& options);

  // ---- Client API ----
  // NOT_FOUND for unknown names, INVALID_ARGUMENT for malformed ones.
  absl::StatusOr<Operation> GetOperation(std::string_view name);
  // Newest first. Filter: `done=true|false`.
  absl::StatusOr<ListPage<Operation>> ListOperations(std::string_view parent,
                                                     const ListQuery& query);
  // Blocks until the operation is done or `timeout` passes, then returns its current state
  // (done or not). A timeout <= 0 returns at once.
  absl::StatusOr<Operation> WaitOperation(std::string_view name, absl::Duration timeout);
  // Best effort: asks the running work to stop; it ends done with error CANCELLED (code 1) unless
  // it completed first. OK for an operation that is already done (nothing changes).
  absl::Status CancelOperation(std::string_view name);
  // Forgets the operation; it does not cancel it.
  absl::Status DeleteOperation(std::string_view name);

  // ---- For services ----
  // Records a new, unfinished operation.
  absl::StatusOr<Operation> Begin(const LocationName& parent, OperationKind kind,
                                  const std::string& target);
  // Completes `name` with `outcome` unless it is already done (first completion wins: an upload
  // completes its operation in its own commit transaction), then wakes waiters.
  absl::Status Finish(const std::string& name, const absl::StatusOr<OperationResult>& outcome);
  // Records progress (no-op once done).
  absl::Status SetProgress(const std::string& name, int32_t percent, const std::string& stage);
  // CancelOperation reaches running work through the token registered under its name.
  void RegisterCancellation(const std::string& name, CancellationTokenPtr token);
  void UnregisterCancellation(const std::string& name);
  // Wakes WaitOperation callers (after a transaction that completed an operation).
  void NotifyChanged();

  MetadataStore* store() const { return options_.store; }
  Clock* clock() const { return options_.clock; }

 private:
  explicit OperationService(const Options& options) : options_(options) {}

  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, CancellationTokenPtr> tokens_ ABSL_GUARDED_BY(mu_);
  uint64_t changes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tessera::registry
