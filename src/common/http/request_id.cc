#include "common/http/request_id.h"

#include <cstdint>
#include <random>

#include "fmt/format.h"

namespace tessera::http {

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (const char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::string NewRequestId() {
  // One generator per thread, seeded from the OS: ids must not repeat across threads or
  // restarts, and must not need a lock on the io threads.
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  const uint64_t high = generator();
  const uint64_t low = generator();
  return fmt::format("{:016x}{:016x}", high, low);
}

std::string RequestIdFor(const HttpHeaders& headers) {
  const std::string* sent = headers.Find(kRequestIdHeader);
  if (sent != nullptr && IsAcceptableRequestId(*sent)) return *sent;
  return NewRequestId();
}

}  // namespace tessera::http
