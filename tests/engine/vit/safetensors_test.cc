// Safetensors parsing: valid files, F16/BF16 conversion, and every kind of corrupt header or
// truncated file -> a clear error naming the file and tensor, never a crash (these run under
// ASan + UBSan too).
#include "engine/vit/safetensors.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "engine/vit/safetensors_writer.h"
#include "engine/vit/vit_fixtures.h"
#include "gtest/gtest.h"

namespace tessera::engine {
namespace {

using testing::FreshDir;
using testing::RawTensor;
using testing::WriteRawSafetensors;
using testing::WriteSafetensors;

std::vector<uint8_t> FloatBytes(std::vector<float> values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

TEST(SafetensorsTest, ReadsAValidFile) {
  auto dir = FreshDir("valid");
  WriteSafetensors(dir / "m.safetensors", {{"a", "F32", {2, 2}, FloatBytes({1, 2, 3, 4})},
                                           {"b", "F16", {3}, {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b}},
                                           {"c", "BF16", {2}, {0x80, 0x3f, 0x40, 0xc0}},
                                           {"empty", "F32", {0, 4}, {}},
                                           {"ints", "I64", {1}, std::vector<uint8_t>(8, 0)}});
  auto file = SafetensorsFile::Open(dir / "m.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  const auto& header = (*file)->header();
  ASSERT_EQ(header.tensors().size(), 5u);
  const TensorInfo* a = header.Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a->num_elements(), 4);
  EXPECT_EQ(header.Find("nope"), nullptr);

  std::vector<float> values(4);
  ASSERT_TRUE((*file)->ReadF32(*a, values).ok());
  EXPECT_EQ(values, (std::vector<float>{1, 2, 3, 4}));
  values.resize(3);
  ASSERT_TRUE((*file)->ReadF32(*header.Find("b"), values).ok());
  EXPECT_EQ(values, (std::vector<float>{1.f, -2.f, 65504.f}));
  values.resize(2);
  ASSERT_TRUE((*file)->ReadF32(*header.Find("c"), values).ok());
  EXPECT_EQ(values, (std::vector<float>{1.f, -3.f}));
  // Integer tensors parse (their ranges are checked) but are not weights.
  std::vector<float> one(1);
  auto ints = (*file)->ReadF32(*header.Find("ints"), one);
  EXPECT_EQ(ints.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ints.message().find("has dtype I64"), std::string::npos) << ints;
  // The header alone gives the same index.
  auto header_only = ReadSafetensorsHeader(dir / "m.safetensors");
  ASSERT_TRUE(header_only.ok()) << header_only.status();
  EXPECT_EQ(header_only->tensors().size(), 5u);
  EXPECT_EQ(header_only->data_size(), header.data_size());
}

TEST(SafetensorsTest, HalfAndBFloat16Conversions) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.f, -24));     // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x03ff), std::ldexp(1023.f, -24));  // largest subnormal
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.f, -14));     // smallest normal
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
  EXPECT_EQ(HalfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
  EXPECT_EQ(BFloat16ToFloat(0x3f80), 1.f);
  EXPECT_EQ(BFloat16ToFloat(0xc040), -3.f);
  EXPECT_EQ(BFloat16ToFloat(0x3eaa), 0.33203125f);
  // Every finite half converts exactly: compare against the float -> half -> float round trip
  // through the bit layout.
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {
    float f = HalfToFloat(static_cast<uint16_t>(bits));
    int exponent = (bits >> 10) & 0x1f;
    float expected = exponent == 0 ? std::ldexp(float(bits & 0x3ff), -24)
                                   : std::ldexp(float((bits & 0x3ff) | 0x400), exponent - 25);
    ASSERT_EQ(f, expected) << "bits " << bits;
  }
}

struct BadFile {
  const char* what;
  std::string header;
  size_t data_bytes;
  const char* expected_message;
};

TEST(SafetensorsTest, RefusesCorruptHeadersClearly) {
  const std::vector<BadFile> cases = {
      {"not JSON", "{\"a\": {\"dtype\": \"F32\",", 0, "not valid JSON"},
      {"not an object", "[1, 2, 3]", 0, "not a JSON object"},
      {"entry not an object", R"({"w": 5})", 0, "tensor \"w\": entry is not an object"},
      {"no dtype", R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", 4, "missing \"dtype\""},
      {"no shape", R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", 4, "missing \"shape\""},
      {"no offsets", R"({"w": {"dtype": "F32", "shape": [1]}})", 4, "data_offsets"},
      {"negative offset", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", 4,
       "data_offsets"},
      {"unknown dtype", R"({"w": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}})", 4,
       "unknown dtype \"F99\""},
      {"offsets past the data", R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
       8, "reach past the end of the data"},
      {"huge offsets",
       R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [18446744073709551612, 18446744073709551615]}})",
       8, "data_offsets"},
      {"end before begin", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8,
       "end before they begin"},
      {"shape disagrees with bytes",
       R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8,
       "needs 12 bytes but data_offsets [0, 8] hold 8"},
      {"negative dimension", R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4,
       "negative dimension"},
      {"fractional dimension", R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
       4, "non-integer"},
      {"overflowing shape",
       R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 4]}})",
       4, "absurdly large"},
      {"overlapping tensors",
       R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
       12, "overlap"},
  };
  for (const auto& c : cases) {
    auto dir = FreshDir("corrupt");
    const auto path = dir / "bad.safetensors";
    WriteRawSafetensors(path, c.header, std::vector<uint8_t>(c.data_bytes, 0));
    for (int via_mmap = 0; via_mmap < 2; ++via_mmap) {
      absl::Status status =
          via_mmap ? SafetensorsFile::Open(path).status() : ReadSafetensorsHeader(path).status();
      ASSERT_FALSE(status.ok()) << c.what;
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what;
      EXPECT_NE(status.message().find(path.string()), std::string::npos) << c.what << status;
      EXPECT_NE(status.message().find(c.expected_message), std::string::npos)
          << c.what << ": " << status;
    }
  }
}

TEST(SafetensorsTest, RefusesBadLengthsAndTruncation) {
  auto dir = FreshDir("lengths");
  const auto path = dir / "bad.safetensors";
  const std::string header = R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  struct Case {
    const char* what;
    std::function<void()> write;
    const char* expected_message;
  };
  const std::vector<Case> cases = {
      {"empty file",
       [&] {
         WriteRawSafetensors(path, "", {}, 0);
         std::filesystem::resize_file(path, 0);
       },
       "truncated"},
      {"3 bytes",
       [&] {
         WriteRawSafetensors(path, "", {}, 0);
         std::filesystem::resize_file(path, 3);
       },
       "truncated"},
      {"zero header length",
       [&] {
         WriteRawSafetensors(path, header, {0, 0, 0, 0, 0, 0, 0, 0}, 0);
       },
       "header length is 0"},
      {"header length past the end",
       [&] { WriteRawSafetensors(path, header, {}, header.size() + 100); }, "truncated"},
      {"absurd header length", [&] { WriteRawSafetensors(path, header, {}, uint64_t{1} << 60); },
       "exceeds"},
      {"data cut short",
       [&] {
         WriteRawSafetensors(path, header, {1, 2, 3});
       },
       "reach past the end"},
  };
  for (const auto& c : cases) {
    c.write();
    for (int via_mmap = 0; via_mmap < 2; ++via_mmap) {
      absl::Status status =
          via_mmap ? SafetensorsFile::Open(path).status() : ReadSafetensorsHeader(path).status();
      ASSERT_FALSE(status.ok()) << c.what;
      EXPECT_NE(status.message().find(c.expected_message), std::string::npos)
          << c.what << ": " << status;
    }
  }
}

TEST(SafetensorsTest, MissingFileAndDirectory) {
  EXPECT_EQ(SafetensorsFile::Open("/nonexistent/model.safetensors").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadSafetensorsHeader("/nonexistent/model.safetensors").status().code(),
            absl::StatusCode::kNotFound);
  auto dir = FreshDir("dir");
  auto status = SafetensorsFile::Open(dir).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("not a regular file"), std::string::npos) << status;
}

TEST(SafetensorsTest, TruncatedRealCheckpointNamesTheTensor) {
  auto fixture = testing::FindVitFixture("vit-odd-heads");
  ASSERT_TRUE(fixture.has_value());
  auto dir = testing::CopyCheckpoint(fixture->dir, "truncated");
  const auto path = dir / "model.safetensors";
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 100);
  auto status = SafetensorsFile::Open(path).status();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("tensor \""), std::string::npos) << status;
  EXPECT_NE(status.message().find("reach past the end of the data"), std::string::npos) << status;
  // Cut inside the header.
  std::filesystem::resize_file(path, 100);
  status = ReadSafetensorsHeader(path).status();
  EXPECT_NE(status.message().find("truncated"), std::string::npos) << status;
}

}  // namespace
}  // namespace tessera::engine
