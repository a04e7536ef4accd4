// Base64 (RFC 4648) as used by Vertex AI's {"b64": ...} instances and KServe BYTES payloads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera {

// Decodes standard or URL-safe base64; padding optional, ASCII whitespace ignored (clients wrap
// lines). Any other character, or a length that cannot be base64, is INVALID_ARGUMENT with the
// offending offset in the message. Thread-safe, allocation is the output only.
absl::StatusOr<std::string> Base64Decode(std::string_view encoded);

// Standard alphabet, with padding.
std::string Base64Encode(std::string_view bytes);

}  // namespace tessera
