#include "auth/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/http/google_error.h"
#include "fmt/format.h"

namespace tessera::auth {
namespace {

void Refill(double& tokens, absl::Time& refilled, const registry::RateLimit& limit,
            absl::Time now) {
  const double elapsed_s = std::max(0.0, absl::ToDoubleSeconds(now - refilled));
  tokens =
      std::min(static_cast<double>(limit.burst), tokens + elapsed_s * limit.requests_per_second);
  refilled = now;
}

// The map key of a bucket: its kind, then its target (a kind's letter cannot start another's).
std::string BucketKey(LimitKind kind, std::string_view target) {
  char letter = 'k';
  switch (kind) {
    case LimitKind::kKey:
      letter = 'k';
      break;
    case LimitKind::kKeysMadeUnder:
      letter = 'u';
      break;
    case LimitKind::kEndpoint:
      letter = 'e';
      break;
  }
  std::string key(1, letter);
  key += target;
  return key;
}

absl::Status Refusal(const LimitedTarget& refused, double missing_tokens) {
  const registry::RateLimit& limit = refused.limit;
  // Clamped before the conversion: a rate near zero must not overflow an int.
  const double wait_s =
      std::min(3600.0, std::ceil(missing_tokens / std::max(limit.requests_per_second, 1e-9)));
  const int retry_after_s = std::max(1, static_cast<int>(wait_s));
  absl::Status status = absl::ResourceExhaustedError(
      fmt::format("rate limit of {} {} exceeded ({:g} requests/s, burst {}); retry after {} s",
                  LimitKindName(refused.kind), refused.target, limit.requests_per_second,
                  limit.burst, retry_after_s));
  http::SetRetryAfterSeconds(status, retry_after_s);
  http::SetErrorInfo(
      status, {.reason = "RATE_LIMIT_EXCEEDED",
               .domain = "tessera",
               .metadata = {{"limit", std::string(LimitKindCode(refused.kind))},
                            {"target", refused.target},
                            {"requestsPerSecond", fmt::format("{:g}", limit.requests_per_second)},
                            {"burst", std::to_string(limit.burst)}}});
  return status;
}

}  // namespace

std::string_view LimitKindName(LimitKind kind) {
  switch (kind) {
    case LimitKind::kKey:
      return "key";
    case LimitKind::kKeysMadeUnder:
      return "the keys made under key";
    case LimitKind::kEndpoint:
      return "endpoint";
  }
  return "key";
}

std::string_view LimitKindCode(LimitKind kind) {
  switch (kind) {
    case LimitKind::kKey:
      return "key";
    case LimitKind::kKeysMadeUnder:
      return "keysMadeUnderKey";
    case LimitKind::kEndpoint:
      return "endpoint";
  }
  return "key";
}

absl::Status RateLimiter::Admit(LimitKind kind, const std::string& target,
                                const registry::RateLimit& limit) {
  const LimitedTarget one{.target = target, .limit = limit, .kind = kind};
  return AdmitAll(std::span<const LimitedTarget>(&one, 1));
}

absl::Status RateLimiter::AdmitAll(std::span<const LimitedTarget> targets) {
  const absl::Time now = clock_->Now();
  const LimitedTarget* refused = nullptr;
  double missing = 0;
  {
    absl::MutexLock lock(&mu_);
    // Pruned before any bucket is looked at: pruning later could drop one already held below.
    if (buckets_.size() + targets.size() >= prune_at_) PruneFullBuckets(now);
    std::vector<Bucket*> buckets;
    buckets.reserve(targets.size());
    for (const LimitedTarget& t : targets) {
      auto [it, made] = buckets_.try_emplace(BucketKey(t.kind, t.target));
      Bucket& bucket = it->second;
      if (made) bucket = Bucket{.tokens = static_cast<double>(t.limit.burst), .refilled = now};
      bucket.limit = t.limit;
      Refill(bucket.tokens, bucket.refilled, t.limit, now);
      if (bucket.tokens < 1.0) {
        refused = &t;
        missing = 1.0 - bucket.tokens;
        break;
      }
      buckets.push_back(&bucket);  // stable: unordered_map never moves its elements
    }
    if (refused == nullptr) {
      for (Bucket* bucket : buckets) bucket->tokens -= 1.0;
      return absl::OkStatus();
    }
  }
  // Built outside the lock: refusals come in floods.
  return Refused(refused->kind, Refusal(*refused, missing));
}

absl::Status RateLimiter::Refused(LimitKind kind, absl::Status refusal) const {
  if (refusals_ != nullptr) refusals_->With({std::string(LimitKindCode(kind))})->Increment();
  return refusal;
}

absl::Status RateLimiter::Check(std::span<const LimitedTarget> targets) const {
  const absl::Time now = clock_->Now();
  for (const LimitedTarget& t : targets) {
    double tokens = 0;
    {
      absl::ReaderMutexLock lock(&mu_);
      tokens = TokensAt(t, now);
    }
    if (tokens < 1.0) return Refused(t.kind, Refusal(t, 1.0 - tokens));
  }
  return absl::OkStatus();
}

bool RateLimiter::Available(LimitKind kind, const std::string& target,
                            const registry::RateLimit& limit) const {
  const absl::Time now = clock_->Now();
  absl::ReaderMutexLock lock(&mu_);
  return TokensAt({.target = target, .limit = limit, .kind = kind}, now) >= 1.0;
}

double RateLimiter::TokensAt(const LimitedTarget& t, absl::Time now) const {
  const auto it = buckets_.find(BucketKey(t.kind, t.target));
  if (it == buckets_.end()) return static_cast<double>(t.limit.burst);
  double tokens = it->second.tokens;
  absl::Time refilled = it->second.refilled;
  Refill(tokens, refilled, t.limit, now);
  return tokens;
}

void RateLimiter::Forget(LimitKind kind, const std::string& target) {
  absl::MutexLock lock(&mu_);
  buckets_.erase(BucketKey(kind, target));
}

size_t RateLimiter::buckets() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

void RateLimiter::PruneFullBuckets(absl::Time now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Bucket& b = it->second;
    Refill(b.tokens, b.refilled, b.limit, now);
    if (b.tokens >= static_cast<double>(b.limit.burst) && b.limit.burst > 0) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  prune_at_ = std::max<size_t>(1024, 2 * buckets_.size());
}

}  // namespace tessera::auth
