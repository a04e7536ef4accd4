// Bytes as a client puts them in its Authorization and x-api-key headers (or gRPC metadata),
// through the front door's parsing (PresentedKey), the key format (KeyIdOf) and
// KeyService::Authenticate against a real store holding one admin key. Never a crash; a refusal
// is always UNAUTHENTICATED; nothing but the real key authenticates; RedactKeys redacts the real
// key, escaped in any way, whatever text comes before it.
//
// Input: the first byte's bits say which of the values (split on '\n', at most 6) go to
// Authorization (bit set) or x-api-key (bit clear).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/api_key_secret.h"
#include "auth/key_service.h"
#include "common/clock.h"
#include "fmt/format.h"
#include "fuzz_util.h"
#include "registry/sqlite/sqlite_metadata_store.h"
#include "serving/front_door/front_door.h"

namespace {

using tessera::fuzz::Require;

struct Fixture {
  tessera::RealClock clock;
  std::unique_ptr<tessera::registry::sqlite::SqliteMetadataStore> store;
  std::unique_ptr<tessera::auth::KeyService> keys;
  std::string real_key;
};

Fixture& Instance() {
  static Fixture* fixture = [] {
    auto* f = new Fixture();
    auto store = tessera::registry::sqlite::SqliteMetadataStore::Open(
        {.path = tessera::fuzz::ScratchDir() / "keys.db"});
    Require(store.ok(), "cannot open the key store");
    f->store = std::move(*store);
    auto keys = tessera::auth::KeyService::Create(
        {.store = f->store.get(), .clock = &f->clock, .pepper = std::string(64, 'p')});
    Require(keys.ok(), "cannot create the key service");
    f->keys = std::move(*keys);
    auto made = f->keys->CreateFirstAdminKey([f](const std::string& key) {
      f->real_key = key;
      return absl::OkStatus();
    });
    Require(made.ok() && *made, "cannot make the admin key");
    return f;
  }();
  return *fixture;
}

// `key` with some characters percent-escaped: which ones, and in which hex case, follow from a
// hash of `input` (so the fuzzer explores the escapes as it explores inputs).
std::string EscapedAsTheInputSays(const std::string& key, std::string_view input) {
  uint64_t bits = std::hash<std::string_view>{}(input);
  const bool upper = (bits & 1) != 0;
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    bits = bits * 6364136223846793005ULL + 1442695040888963407ULL;  // a step of an LCG
    if ((bits >> 61) == 0) {                                        // about one character in 8
      const auto c = static_cast<unsigned char>(key[i]);
      out += upper ? fmt::format("%{:02X}", c) : fmt::format("%{:02x}", c);
    } else {
      out += key[i];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Fixture& f = Instance();
  const uint8_t routing = data[0];
  std::string_view rest = tessera::fuzz::AsView(data + 1, size - 1);
  std::vector<std::string> authorization, api_key;
  for (int i = 0; i < 6 && !rest.empty(); ++i) {
    const size_t nl = rest.find('\n');
    std::string value(rest.substr(0, nl));
    ((routing >> i) & 1 ? authorization : api_key).push_back(std::move(value));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  // What goes to the logs: a key at the end of any text is redacted to its end, whatever comes
  // before it and however it is percent-escaped (which characters, either hex case: chosen by
  // the input); its secret is gone unless the text before it held the secret itself (libFuzzer
  // learns the secret from the comparisons below and may put it there bare, outside any key).
  {
    const std::string_view prefix = tessera::fuzz::AsView(data + 1, size - 1);
    const std::string escaped = EscapedAsTheInputSays(f.real_key, prefix);
    const std::string redacted = tessera::auth::RedactKeys(std::string(prefix) + escaped);
    Require(redacted.ends_with("[redacted]"), "RedactKeys left the end of a key in the text");
    const std::string secret = f.real_key.substr(tessera::auth::kKeyIdLength + 1);
    if (prefix.find(secret) == std::string_view::npos) {
      Require(redacted.find(secret) == std::string::npos,
              "RedactKeys left a key's secret in the text");
    }
  }
  for (const std::string& value : authorization) {
    if (std::optional<std::string_view> id = tessera::auth::KeyIdOf(value)) {
      Require(value.size() == tessera::auth::kKeyLength && tessera::auth::IsKeyId(*id),
              "KeyIdOf accepted a string of the wrong shape");
    }
  }
  absl::StatusOr<std::optional<std::string>> presented =
      tessera::serving::PresentedKey(authorization, api_key);
  if (!presented.ok()) {
    Require(absl::IsUnauthenticated(presented.status()), "a header refusal that is not 401");
    return 0;
  }
  if (!presented->has_value()) {
    Require(authorization.empty() && api_key.empty(), "values present but no key found");
    return 0;
  }
  absl::StatusOr<tessera::auth::Authenticated> who = f.keys->Authenticate(**presented);
  Require(who.ok() == (**presented == f.real_key), "a key other than the real one authenticated");
  if (!who.ok()) Require(absl::IsUnauthenticated(who.status()), "a key refusal that is not 401");
  return 0;
}
