// A token-bucket rate limit as the store persists it, for an API key (registry/api_key.h) or an
// endpoint (Endpoint::rate_limit). Plain data; auth/rate_limiter.h enforces it.
#pragma once

#include <cstdint>

namespace tessera::registry {

struct RateLimit {
  double requests_per_second = 0;  // the bucket's refill rate, > 0
  int64_t burst = 0;               // the bucket's size: requests let through at once, >= 1
  bool operator==(const RateLimit&) const = default;
};

}  // namespace tessera::registry
