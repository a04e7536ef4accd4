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
