// Token buckets, one per limited target: an API key's own limit, the limit a key shares with the
// keys made under it, an endpoint's limit (each kind its own bucket, so a key's own requests and
// its children's draw on different ones). A bucket
// holds up to `burst` tokens and refills at `requests_per_second`; each admitted request takes
// one. A request that finds the bucket empty is refused RESOURCE_EXHAUSTED with a Retry-After
// (the seconds until a token is back) and an ErrorInfo detail, reason RATE_LIMIT_EXCEEDED,
// naming which limit (common/http/google_error.h). The limit travels with each call (from the
// key or the routing snapshot), so a changed limit applies on the next request; a bucket whose
// limit changed keeps its tokens, capped at the new burst.
//
// Memory is bounded by the targets that have limits: buckets that have refilled (those idle for
// burst / rate seconds) are indistinguishable from new ones and are dropped when the map grows.
//
// Thread-safe; one mutex, held for a few arithmetic operations per request.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics/metrics.h"
#include "registry/rate_limit.h"

namespace tessera::auth {

// What a limit bounds. Each kind has its own buckets: a key id names two (its own requests, and
// those of the keys made under it).
enum class LimitKind {
  kKey,            // the key's own requests
  kKeysMadeUnder,  // the requests of every key made under the key (its children's, theirs...)
  kEndpoint,       // the requests an endpoint serves
};
// How a refusal names the limit: "key", "keys made under key", "endpoint".
std::string_view LimitKindName(LimitKind kind);
// The ErrorInfo "limit" metadata: "key", "keysMadeUnderKey", "endpoint".
std::string_view LimitKindCode(LimitKind kind);

// One limit a request counts against.
struct LimitedTarget {
  std::string target;  // a key id, an endpoint resource name
  registry::RateLimit limit;
  LimitKind kind = LimitKind::kKey;
};

class RateLimiter {
 public:
  // `refusals` (optional, not owned): counts every refusal by Admit, AdmitAll and Check, labelled
  // by one label, the refusing limit's LimitKindCode.
  explicit RateLimiter(Clock* clock, metrics::CounterFamily* refusals = nullptr)
      : clock_(clock), refusals_(refusals) {}

  // Takes a token from the bucket of `target` and `kind`.
  absl::Status Admit(LimitKind kind, const std::string& target, const registry::RateLimit& limit);
  // Takes a token from every target's bucket, or from none: refused by the first that is empty
  // (a request refused by one limit uses up no other).
  absl::Status AdmitAll(std::span<const LimitedTarget> targets);
  // AdmitAll's answer without taking anything: for refusing early (before a request's body is
  // read) what AdmitAll would refuse.
  absl::Status Check(std::span<const LimitedTarget> targets) const;
  // Whether Admit would let one request through now (nothing is taken): for choosing among
  // several limited targets before admitting at one.
  bool Available(LimitKind kind, const std::string& target, const registry::RateLimit& limit) const;
  // Drops the bucket (its next request finds a full one).
  void Forget(LimitKind kind, const std::string& target);
  size_t buckets() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled = absl::InfinitePast();
    registry::RateLimit limit;
  };
  void PruneFullBuckets(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The tokens `t`'s bucket holds at `now` (a bucket not yet made is full).
  double TokensAt(const LimitedTarget& t, absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Counts a refusal of `kind` (when counting) and returns `refusal`.
  absl::Status Refused(LimitKind kind, absl::Status refusal) const;

  Clock* const clock_;
  metrics::CounterFamily* const refusals_;
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  size_t prune_at_ ABSL_GUARDED_BY(mu_) = 1024;
};

}  // namespace tessera::auth
