// Base64Decode on arbitrary text; whatever decodes must re-encode to something that decodes to
// the same bytes, and every byte string must round-trip through Base64Encode.
#include "common/base64.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tessera::fuzz::Require;
  const std::string_view input = tessera::fuzz::AsView(data, size);
  absl::StatusOr<std::string> decoded = tessera::Base64Decode(input);
  if (decoded.ok()) {
    Require(decoded->size() <= size, "decoded output larger than its input");
    absl::StatusOr<std::string> again = tessera::Base64Decode(tessera::Base64Encode(*decoded));
    Require(again.ok() && *again == *decoded, "decode(encode(decode(x))) != decode(x)");
  } else {
    Require(absl::IsInvalidArgument(decoded.status()), "an error other than INVALID_ARGUMENT");
  }
  absl::StatusOr<std::string> round = tessera::Base64Decode(tessera::Base64Encode(input));
  Require(round.ok() && *round == input, "decode(encode(x)) != x");
  return 0;
}
