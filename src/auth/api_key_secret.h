// API key strings: how they are made, recognised and hashed. Pure functions over OpenSSL's
// CSPRNG and HMAC; thread-safe.
//
// A key is "tsk_" + 16 hex digits (its public id: 64 random bits, shown in lists, logs and the
// audit log) + "_" + 43 base64url characters (256 random bits, the secret part):
//   tsk_3f9a1c0e7b2d4a6f_kq2vJ0b7...  (64 characters)
// Only HMAC-SHA256(pepper, salt || key) is stored: the per-key salt makes equal keys hash apart,
// the pepper (a server secret kept outside the database, auth/secret_file.h) makes a stolen
// database useless for checking guesses. Hashes compare in constant time.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::auth {

inline constexpr std::string_view kKeyPrefix = "tsk_";
inline constexpr size_t kKeyIdLength = 4 + 16;  // "tsk_" + 16 hex digits
inline constexpr size_t kKeyLength = kKeyIdLength + 1 + 43;

struct GeneratedKey {
  std::string key_id;  // "tsk_3f9a1c0e7b2d4a6f"
  std::string key;     // the whole secret string the client sends
};
GeneratedKey GenerateKey();

// The key id of a well-formed key string; nullopt for anything else (wrong length, prefix or
// characters). Never logs or copies the secret part.
std::optional<std::string_view> KeyIdOf(std::string_view key);
// Whether `text` is a well-formed key id ("tsk_" + 16 lowercase hex digits).
bool IsKeyId(std::string_view text);

// `text` with the secret part of every key-shaped run ("tsk_" + 16 hex + "_" + base64url
// characters) replaced by "[redacted]": for what goes to logs (a request target a client put a
// key in by mistake). The key id stays, so the line still says whose key it was. Percent escapes
// are seen through ("tsk%5F...%5F..." is a key too).
std::string RedactKeys(std::string_view text);

// `bytes` random bytes from the CSPRNG, as lowercase hex.
std::string RandomHex(size_t bytes);
// Lowercase hex of HMAC-SHA256(pepper, salt || key).
std::string HashKey(std::string_view pepper, std::string_view salt, std::string_view key);
// a == b without an early exit (both hex hashes of the same length; false otherwise).
bool HashesEqual(std::string_view a, std::string_view b);

}  // namespace tessera::auth
