#include "common/http/request_id.h"

#include "common/random_id.h"

namespace tessera::http {

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (const char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::string NewRequestId() { return RandomHexId(32); }

std::string RequestIdFor(const HttpHeaders& headers) {
  const std::string* sent = headers.Find(kRequestIdHeader);
  if (sent != nullptr && IsAcceptableRequestId(*sent)) return *sent;
  return NewRequestId();
}

}  // namespace tessera::http
