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
  EXPECT_EQ(*Base64Decode("Zm8"), "fo");           // padding optional
  EXPECT_EQ(*Base64Decode("Zm9v\nYmFy\r\n"), "foobar");  // wrapped lines
  EXPECT_EQ(*Base64Decode("-_-_"), *Base64Decode("+/+/"));  // URL-safe alphabet
}

TEST(Base64Test, RejectsGarbage) {
  EXPECT_EQ(Base64Decode("Zm9v!mFy").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64Decode("Z").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64Decode("Zm==Zm").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64Decode("Zm8====").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
