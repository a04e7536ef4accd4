#include "auth/api_key_secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "spdlog/spdlog.h"

namespace tessera::auth {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void RandomBytes(unsigned char* out, size_t n) {
  // Failing to get randomness must never produce a guessable key.
  if (RAND_bytes(out, static_cast<int>(n)) != 1) {
    spdlog::critical("the CSPRNG failed (RAND_bytes); refusing to continue without randomness");
    std::abort();
  }
}

std::string Hex(const unsigned char* bytes, size_t n) {
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool IsBase64Url(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; }

}  // namespace

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RandomBytes(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

GeneratedKey GenerateKey() {
  GeneratedKey out;
  out.key_id = std::string(kKeyPrefix) + RandomHex(8);
  // 32 random bytes as 43 base64url characters: 6 bits each, the last one holding 2 bits.
  unsigned char random[32];
  RandomBytes(random, sizeof(random));
  std::string secret;
  uint32_t bits = 0;
  int have = 0;
  for (unsigned char byte : random) {
    bits = (bits << 8) | byte;
    have += 8;
    while (have >= 6) {
      have -= 6;
      secret.push_back(kBase64Url[(bits >> have) & 63]);
    }
  }
  if (have > 0) secret.push_back(kBase64Url[(bits << (6 - have)) & 63]);
  out.key = out.key_id + "_" + secret;
  return out;
}

bool IsKeyId(std::string_view text) {
  if (text.size() != kKeyIdLength || text.substr(0, kKeyPrefix.size()) != kKeyPrefix) return false;
  for (char c : text.substr(kKeyPrefix.size())) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

std::optional<std::string_view> KeyIdOf(std::string_view key) {
  if (key.size() != kKeyLength || !IsKeyId(key.substr(0, kKeyIdLength)) ||
      key[kKeyIdLength] != '_') {
    return std::nullopt;
  }
  for (char c : key.substr(kKeyIdLength + 1)) {
    if (!IsBase64Url(c)) return std::nullopt;
  }
  return key.substr(0, kKeyIdLength);
}

std::string HashKey(std::string_view pepper, std::string_view salt, std::string_view key) {
  std::string data;
  data.reserve(salt.size() + key.size());
  data.append(salt).append(key);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), pepper.data(), static_cast<int>(pepper.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  OPENSSL_cleanse(data.data(), data.size());
  return Hex(digest, length);
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// Reads `text` a character at a time as a URL decoder would: "%5F" is one '_'. Redaction must
// see a key however the client escaped it.
class DecodingReader {
 public:
  DecodingReader(std::string_view text, size_t at) : text_(text), at_(at) {}
  // The next decoded character, or nullopt at the end.
  std::optional<char> Next() {
    if (at_ >= text_.size()) return std::nullopt;
    if (text_[at_] == '%' && at_ + 2 < text_.size()) {
      const int hi = HexValue(text_[at_ + 1]), lo = HexValue(text_[at_ + 2]);
      if (hi >= 0 && lo >= 0) {
        at_ += 3;
        return static_cast<char>(hi * 16 + lo);
      }
    }
    return text_[at_++];
  }
  size_t position() const { return at_; }

 private:
  std::string_view text_;
  size_t at_;
};

// Where a key found in a text lies, in raw (possibly escaped) offsets.
struct KeySpan {
  size_t secret_start;  // just past the "_" after the key id
  size_t end;           // just past the key's last character
};

// The key starting at `at`, when one does.
std::optional<KeySpan> KeyAt(std::string_view text, size_t at) {
  DecodingReader reader(text, at);
  for (char want : kKeyPrefix) {
    if (reader.Next() != want) return std::nullopt;
  }
  for (size_t i = kKeyPrefix.size(); i < kKeyIdLength; ++i) {
    const std::optional<char> c = reader.Next();
    if (!c || !IsLowerHex(*c)) return std::nullopt;
  }
  if (reader.Next() != '_') return std::nullopt;
  const size_t secret_start = reader.position();
  size_t end = secret_start;
  for (std::optional<char> c = reader.Next(); c && IsBase64Url(*c); c = reader.Next()) {
    end = reader.position();
  }
  return KeySpan{.secret_start = secret_start, .end = end};
}

}  // namespace

std::string RedactKeys(std::string_view text) {
  std::string out;
  size_t copied = 0;
  for (size_t at = 0; at < text.size(); ++at) {
    if (text[at] != 't' && text[at] != '%') continue;  // a key starts with "t" or its escape
    const std::optional<KeySpan> key = KeyAt(text, at);
    if (!key) continue;
    out.append(text.substr(copied, key->secret_start - copied)).append("[redacted]");
    copied = key->end;
    at = key->end - 1;
  }
  out.append(text.substr(copied));
  return out;
}

bool HashesEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tessera::auth
