// Key strings: their shape, what is recognised as one, and the hash.
#include "auth/api_key_secret.h"

#include <set>

#include "fmt/format.h"
#include "gtest/gtest.h"

namespace tessera::auth {
namespace {

TEST(ApiKeySecretTest, GeneratedKeysHaveTheDocumentedShapeAndDiffer) {
  std::set<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    const GeneratedKey k = GenerateKey();
    EXPECT_EQ(k.key.size(), kKeyLength);
    EXPECT_EQ(k.key.substr(0, kKeyIdLength), k.key_id);
    EXPECT_TRUE(IsKeyId(k.key_id)) << k.key_id;
    EXPECT_EQ(KeyIdOf(k.key), k.key_id) << k.key;
    EXPECT_TRUE(keys.insert(k.key).second);
  }
}

TEST(ApiKeySecretTest, AnythingElseIsNotAKey) {
  const std::string good = GenerateKey().key;
  EXPECT_FALSE(KeyIdOf(""));
  EXPECT_FALSE(KeyIdOf(good.substr(0, good.size() - 1)));
  EXPECT_FALSE(KeyIdOf(good + "x"));
  for (size_t i = 0; i < good.size(); ++i) {
    for (char bad : {'\0', ' ', '\n', '.', '/', '\xff'}) {
      std::string k = good;
      k[i] = bad;
      EXPECT_FALSE(KeyIdOf(k)) << "position " << i << " char " << int(bad);
    }
  }
  std::string upper = good;
  upper[5] = 'A';  // key ids are lowercase hex
  EXPECT_FALSE(KeyIdOf(upper));
  EXPECT_FALSE(IsKeyId("tsk_0123"));
  EXPECT_FALSE(IsKeyId("tsx_0123456789abcdef"));
}

TEST(ApiKeySecretTest, HashDependsOnPepperSaltAndKey) {
  const std::string pepper(32, 'p');
  const std::string h = HashKey(pepper, "salt", "key");
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h, HashKey(pepper, "salt", "key"));
  EXPECT_NE(h, HashKey(std::string(32, 'q'), "salt", "key"));
  EXPECT_NE(h, HashKey(pepper, "sal7", "key"));
  EXPECT_NE(h, HashKey(pepper, "salt", "kex"));
  EXPECT_TRUE(HashesEqual(h, h));
  EXPECT_FALSE(HashesEqual(h, HashKey(pepper, "salt", "kex")));
  EXPECT_FALSE(HashesEqual(h, h.substr(1)));
  EXPECT_FALSE(HashesEqual("", ""));
  EXPECT_EQ(RandomHex(16).size(), 32u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

TEST(ApiKeySecretTest, RedactKeysKeepsTheIdAndDropsTheSecret) {
  const GeneratedKey k = GenerateKey();
  const std::string secret = k.key.substr(kKeyIdLength + 1);
  const std::string path = "/v1/keys/" + k.key + ":revoke?x=" + k.key;
  const std::string redacted = RedactKeys(path);
  EXPECT_EQ(redacted.find(secret), std::string::npos);
  EXPECT_EQ(redacted.find(secret.substr(0, 8)), std::string::npos);
  EXPECT_EQ(redacted, "/v1/keys/" + k.key_id + "_[redacted]:revoke?x=" + k.key_id + "_[redacted]");
  // Nothing else changes: ids alone, other text, a "tsk_" that is not a key.
  for (const std::string& plain :
       {std::string("/v1/keys/") + k.key_id, std::string("tsk_"), std::string("tsk_zzzz"),
        std::string("a tsk_ b"), std::string("")}) {
    EXPECT_EQ(RedactKeys(plain), plain);
  }
}

TEST(ApiKeySecretTest, RedactKeysSeesThroughPercentEscapes) {
  const GeneratedKey k = GenerateKey();
  const std::string id_hex = k.key_id.substr(kKeyPrefix.size());
  const std::string secret = k.key.substr(kKeyIdLength + 1);
  // The separators escaped, either case; the prefix escaped; every secret character escaped.
  std::string escaped_secret;
  for (char c : secret) escaped_secret += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  const std::string forms[] = {
      "tsk%5F" + id_hex + "%5F" + secret,
      "tsk%5f" + id_hex + "%5f" + secret,
      "%74sk_" + id_hex + "_" + secret,
      k.key_id + "_" + escaped_secret,
  };
  std::string escaped_id_hex;  // lower-case escapes this time
  for (char c : id_hex) escaped_id_hex += fmt::format("%{:02x}", static_cast<unsigned char>(c));
  const std::string more_forms[] = {
      "tsk_" + escaped_id_hex + "_" + secret,
      k.key_id + "_" + secret.substr(0, 42) + fmt::format("%{:02x}", secret.back()),
  };
  for (const std::string& form :
       {forms[0], forms[1], forms[2], forms[3], more_forms[0], more_forms[1]}) {
    const std::string redacted = RedactKeys("/v1/x/" + form + "?a=b");
    EXPECT_EQ(redacted.find(secret.substr(0, 6)), std::string::npos) << form;
    EXPECT_EQ(redacted.find(escaped_secret.substr(0, 9)), std::string::npos) << form;
    EXPECT_NE(redacted.find("[redacted]?a=b"), std::string::npos) << redacted;
    // At the very end of the text too (an escape in the last three characters).
    EXPECT_TRUE(RedactKeys("/v1/x/" + form).ends_with("[redacted]")) << form;
  }
  // A stray or truncated escape is just text.
  for (const std::string& plain :
       {std::string("%"), std::string("a%5"), std::string("tsk%5Fzz"), std::string("%%%5F")}) {
    EXPECT_EQ(RedactKeys(plain), plain);
  }
}

}  // namespace
}  // namespace tessera::auth
