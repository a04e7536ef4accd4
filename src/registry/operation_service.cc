#include "registry/operation_service.h"

#include "common/status_macros.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::registry {

absl::StatusOr<std::unique_ptr<OperationService>> OperationService::Create(const Options& options) {
  if (options.store == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("OperationService: store and clock are required");
  }
  std::unique_ptr<OperationService> service(new OperationService(options));
  absl::Time now = options.clock->Now();
  ASSIGN_OR_RETURN(int failed, options.store->TransactValue<int>([&](MetadataTxn& txn) {
    return txn.FailUnfinishedOperations(
        absl::UnavailableError("interrupted by a server restart; retry the request"), now);
  }));
  if (failed > 0) {
    spdlog::warn("{} operation(s) were interrupted by the last shutdown and are marked failed",
                 failed);
  }
  return service;
}

absl::StatusOr<Operation> OperationService::GetOperation(std::string_view name) {
  ASSIGN_OR_RETURN(OperationName parsed, OperationName::Parse(name));
  return options_.store->TransactValue<Operation>(
      [&](MetadataTxn& txn) { return txn.GetOperation(parsed); });
}

absl::StatusOr<ListPage<Operation>> OperationService::ListOperations(std::string_view parent,
                                                                     const ListQuery& query) {
  ASSIGN_OR_RETURN(LocationName location, LocationName::Parse(parent));
  ListArgs args;
  ASSIGN_OR_RETURN(args.filter, ParseListFilter(query.filter, FilterFields{.done = true}));
  ASSIGN_OR_RETURN(args.page_size, EffectivePageSize(query.page_size));
  args.page_token = query.page_token;
  return options_.store->TransactValue<ListPage<Operation>>(
      [&](MetadataTxn& txn) { return txn.ListOperations(location, args); });
}

absl::StatusOr<Operation> OperationService::WaitOperation(std::string_view name,
                                                          absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    uint64_t seen;
    {
      absl::MutexLock lock(&mu_);
      seen = changes_;
    }
    ASSIGN_OR_RETURN(Operation op, GetOperation(name));
    if (op.done || absl::Now() >= deadline) return op;
    absl::MutexLock lock(&mu_);
    auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return changes_ != seen; };
    mu_.AwaitWithDeadline(absl::Condition(&changed), deadline);
  }
}

absl::Status OperationService::CancelOperation(std::string_view name) {
  ASSIGN_OR_RETURN(Operation op, GetOperation(name));
  if (op.done) return absl::OkStatus();
  CancellationTokenPtr token;
  {
    absl::MutexLock lock(&mu_);
    auto it = tokens_.find(op.name);
    if (it != tokens_.end()) token = it->second;
  }
  if (token != nullptr) {
    token->Cancel();
    return absl::OkStatus();
  }
  // No work is running for it (it cannot be resumed): complete it as cancelled now.
  return Finish(op.name, absl::CancelledError("operation cancelled"));
}

absl::Status OperationService::DeleteOperation(std::string_view name) {
  ASSIGN_OR_RETURN(OperationName parsed, OperationName::Parse(name));
  return options_.store->Transact([&](MetadataTxn& txn) { return txn.DeleteOperation(parsed); });
}

absl::StatusOr<Operation> OperationService::Begin(const LocationName& parent, OperationKind kind,
                                                  const std::string& target) {
  Operation op;
  op.kind = kind;
  op.target = target;
  op.create_time = op.update_time = options_.clock->Now();
  op.stage = "PENDING";
  return options_.store->TransactValue<Operation>(
      [&](MetadataTxn& txn) { return txn.CreateOperation(parent, op); });
}

absl::Status OperationService::Finish(const std::string& name,
                                      const absl::StatusOr<OperationResult>& outcome) {
  ASSIGN_OR_RETURN(OperationName parsed, OperationName::Parse(name));
  absl::Time now = options_.clock->Now();
  absl::Status status = options_.store->Transact([&](MetadataTxn& txn) -> absl::Status {
    absl::StatusOr<bool> completed =
        outcome.ok() ? txn.CompleteOperation(parsed, absl::OkStatus(), *outcome, now)
                     : txn.CompleteOperation(parsed, outcome.status(), OperationResult{}, now);
    // A deleted operation has nobody left to tell.
    if (absl::IsNotFound(completed.status())) return absl::OkStatus();
    return completed.status();
  });
  NotifyChanged();
  return status;
}

absl::Status OperationService::SetProgress(const std::string& name, int32_t percent,
                                           const std::string& stage) {
  ASSIGN_OR_RETURN(OperationName parsed, OperationName::Parse(name));
  absl::Time now = options_.clock->Now();
  return options_.store->Transact([&](MetadataTxn& txn) -> absl::Status {
    absl::Status s = txn.UpdateOperationProgress(parsed, percent, stage, now);
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  });
}

void OperationService::RegisterCancellation(const std::string& name, CancellationTokenPtr token) {
  absl::MutexLock lock(&mu_);
  tokens_[name] = std::move(token);
}

void OperationService::UnregisterCancellation(const std::string& name) {
  absl::MutexLock lock(&mu_);
  tokens_.erase(name);
}

void OperationService::NotifyChanged() {
  absl::MutexLock lock(&mu_);
  ++changes_;
}

}  // namespace tessera::registry
