#include "common/base64.h"

#include <random>

#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(Base64Test, RoundTripsEveryLength) {
  std::mt19937 rng(7);
  for (int len = 0; len < 64; ++len) {
    std::string bytes(len, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const std::string encoded = Base64Encode(bytes);
    EXPECT_EQ(encoded.size() % 4, 0u);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(Base64Test, KnownVectors) {
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(*Base64Decode("Zm8="), "fo");
  EXPECT_EQ(*Base64Decode("Zm8"), "fo");                    // padding optional
  EXPECT_EQ(*Base64Decode("Zm9v\nYmFy\r\n"), "foobar");     // wrapped lines
  EXPECT_EQ(*Base64Decode("-_-_"), *Base64Decode("+/+/"));  // URL-safe alphabet
}

// Whitespace anywhere (inside a group of four too), as MIME and hand-wrapped payloads have it:
// the decoder's fast path for whole groups must hand over to the character loop and back.
TEST(Base64Test, WhitespaceAnywhereDecodesTheSame) {
  std::mt19937 rng(11);
  for (int len : {1, 2, 3, 57, 300, 4096}) {
    std::string bytes(len, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const std::string encoded = Base64Encode(bytes);
    std::string wrapped;
    for (size_t i = 0; i < encoded.size(); ++i) {
      if (i % 76 == 0 && i > 0) wrapped += "\r\n";
      if (rng() % 7 == 0) wrapped += ' ';
      wrapped += encoded[i];
    }
    auto decoded = Base64Decode(wrapped);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, bytes) << len;
  }
}

// A plain bit-at-a-time decoder of the standard alphabet (no padding, no whitespace): what the
// vectorized block path must agree with.
std::string ReferenceDecode(std::string_view encoded) {
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t accum = 0;
  int bits = 0;
  for (char c : encoded) {
    accum = (accum << 6) | static_cast<uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accum >> bits) & 0xFF));
    }
  }
  return out;
}

// Long inputs go through whole 32-character blocks: every character of the alphabet in every
// position of a block, and every length around the block and group boundaries.
TEST(Base64Test, LongInputsDecodeLikeTheReference) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int shift = 0; shift < 64; ++shift) {
    std::string encoded;
    for (int i = 0; i < 64 * 5; ++i) encoded += alphabet[(i * 7 + shift) % 64];
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, ReferenceDecode(encoded)) << shift;
  }
  std::mt19937 rng(13);
  for (int len = 0; len < 700; ++len) {
    std::string bytes(len, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    auto decoded = Base64Decode(Base64Encode(bytes));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, bytes) << len;
  }
}

// Whatever the block path cannot take -- an invalid byte (high bytes included), a URL-safe
// character -- hands over to the character loop at the right offset, in any lane of a block.
TEST(Base64Test, AnyByteInsideABlockIsHandled) {
  const std::string plain(128, 'B');
  for (int pos = 0; pos < 96; ++pos) {
    for (char bad : {'*', '\x80', '\xff', '\0', '@', '[', '`', '{', ':'}) {
      std::string encoded = plain;
      encoded[pos] = bad;
      EXPECT_EQ(Base64Decode(encoded).status().message(),
                "invalid base64: unexpected character at offset " + std::to_string(pos))
          << pos << " " << int(static_cast<uint8_t>(bad));
    }
    std::string url_safe(128, '+');
    url_safe[pos] = '-';
    EXPECT_EQ(*Base64Decode(url_safe), *Base64Decode(std::string(128, '+'))) << pos;
  }
}

TEST(Base64Test, RejectsGarbage) {
  // An invalid character inside a long run (where the fast path works) is still found.
  std::string long_run(1000, 'A');
  long_run[601] = '*';
  EXPECT_EQ(Base64Decode(long_run).status().message(),
            "invalid base64: unexpected character at offset 601");
  EXPECT_EQ(Base64Decode("Zm8=Zm9v").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64Decode("Zm9v!mFy").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64Decode("Z").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64Decode("Zm==Zm").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64Decode("Zm8====").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
