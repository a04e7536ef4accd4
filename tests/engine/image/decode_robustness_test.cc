// Bad input never crashes the decoders (these tests also run under ASan + UBSan): every prefix
// of small images of each format, random bytes behind each magic number, thousands of mutated
// images, headers claiming huge sizes (refused before allocating), zero sizes, limits.
#include <random>
#include <string>
#include <vector>

#include "engine/image/decode.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_images.h"

namespace tessera::engine {
namespace {

using ::testing::HasSubstr;
using testing::Bytes;

struct Sample {
  std::string name;
  Bytes bytes;
  // Decoding may still succeed with this many trailing bytes cut (PNG's IEND chunk and the CRC of the last IDAT, which
  // Pillow does not need either); any shorter prefix must be refused.
  size_t optional_tail = 0;
};

std::vector<Sample> SmallImages() {
  const RgbImage image = testing::Pattern(21, 13, 1);
  std::vector<uint8_t> alpha(21 * 13);
  for (size_t i = 0; i < alpha.size(); ++i) alpha[i] = static_cast<uint8_t>(i * 37);
  testing::PngSpec palette{.width = 9, .height = 7, .bit_depth = 4, .color_type = 3};
  for (int i = 0; i < 9 * 7; i += 2) palette.samples.push_back(static_cast<uint8_t>(i * 29));
  palette.samples.resize(5 * 7);
  palette.palette = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9};
  return {
      {"baseline.jpg", testing::EncodeJpeg(image, 90), 0},
      {"progressive.jpg", testing::EncodeJpeg(image, 90, 3, /*progressive=*/true), 0},
      {"gray.jpg", testing::EncodeJpeg(image, 80, 1), 0},
      {"cmyk.jpg", testing::EncodeJpeg(image, 80, 4), 0},
      {"rgb.png", testing::EncodePngRgb(image), 16},
      {"adam7.png", testing::EncodePngRgb(image, /*interlaced=*/true), 16},
      {"palette.png", testing::EncodePng(palette), 16},
      {"lossy.webp", testing::EncodeWebp(image, /*lossless=*/false), 0},
      {"lossless.webp", testing::EncodeWebp(image, /*lossless=*/true), 0},
      {"alpha.webp", testing::EncodeWebp(image, /*lossless=*/false, &alpha), 0},
  };
}

void ExpectSaneIfDecoded(const absl::StatusOr<RgbImage>& decoded, const std::string& what) {
  if (decoded.ok()) {
    EXPECT_GT(decoded->width, 0) << what;
    EXPECT_GT(decoded->height, 0) << what;
    EXPECT_EQ(decoded->pixels.size(), static_cast<size_t>(decoded->width) * decoded->height * 3)
        << what;
  } else {
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
        << what << ": " << decoded.status();
    EXPECT_FALSE(decoded.status().message().empty()) << what;
  }
}

TEST(DecodeRobustnessTest, EveryPrefixIsRefusedOrDecodes) {
  for (const Sample& sample : SmallImages()) {
    ASSERT_TRUE(DecodeImage(sample.bytes).ok()) << sample.name;
    for (size_t len = 0; len < sample.bytes.size(); ++len) {
      const auto decoded = DecodeImage(std::span(sample.bytes.data(), len));
      const std::string what = sample.name + " cut to " + std::to_string(len) + " of " +
                               std::to_string(sample.bytes.size()) + " bytes";
      ExpectSaneIfDecoded(decoded, what);
      if (len + sample.optional_tail < sample.bytes.size()) {
        EXPECT_FALSE(decoded.ok()) << what << " decoded";
      }
    }
  }
}

TEST(DecodeRobustnessTest, TruncationIsNamed) {
  for (const Sample& sample : SmallImages()) {
    const size_t half = sample.bytes.size() / 2;
    const auto decoded = DecodeImage(std::span(sample.bytes.data(), half));
    ASSERT_FALSE(decoded.ok()) << sample.name;
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("truncated")) << sample.name;
  }
}

TEST(DecodeRobustnessTest, RandomBytesBehindEachMagic) {
  std::mt19937 rng(3);
  const std::vector<Bytes> magics = {
      {0xff, 0xd8, 0xff},
      {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
      {'R', 'I', 'F', 'F', 0x40, 0, 0, 0, 'W', 'E', 'B', 'P'},
      {'R', 'I', 'F', 'F', 0x40, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'L'},
      {},
  };
  for (const Bytes& magic : magics) {
    for (int i = 0; i < 300; ++i) {
      Bytes bytes = magic;
      const size_t extra = rng() % 200;
      for (size_t j = 0; j < extra; ++j) bytes.push_back(static_cast<uint8_t>(rng()));
      ExpectSaneIfDecoded(DecodeImage(bytes), "random bytes " + std::to_string(i));
    }
  }
}

// Deterministic mutation fuzzing: bit flips, byte overwrites, insertions, deletions and
// truncations of valid images (PNG chunk CRCs are fixed up afterwards half of the time, so that
// the damage reaches the decoder instead of the checksum check).
void FixPngCrcs(Bytes& png);

TEST(DecodeRobustnessTest, MutatedImagesNeverCrash) {
  std::mt19937 rng(12345);
  int decoded_count = 0, refused_count = 0;
  for (const Sample& sample : SmallImages()) {
    for (int i = 0; i < 700; ++i) {
      Bytes bytes = sample.bytes;
      const int mutations = 1 + rng() % 4;
      for (int m = 0; m < mutations && !bytes.empty(); ++m) {
        const size_t at = rng() % bytes.size();
        switch (rng() % 5) {
          case 0:
            bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
            break;
          case 1:
            bytes[at] = static_cast<uint8_t>(rng());
            break;
          case 2:
            bytes.insert(bytes.begin() + at, static_cast<uint8_t>(rng()));
            break;
          case 3:
            bytes.erase(bytes.begin() + at);
            break;
          case 4:  // an interesting value: 0, 0xff, or a big length-like number
            bytes[at] = (rng() % 2) ? 0xff : 0x00;
            break;
        }
      }
      if (sample.name.ends_with(".png") && rng() % 2) FixPngCrcs(bytes);
      const auto decoded = DecodeImage(bytes);
      ExpectSaneIfDecoded(decoded, sample.name + " mutation " + std::to_string(i));
      (decoded.ok() ? decoded_count : refused_count)++;
    }
  }
  // Both outcomes happen, or the mutations test nothing.
  EXPECT_GT(decoded_count, 100);
  EXPECT_GT(refused_count, 100);
}

uint32_t Crc32(const uint8_t* data, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void PutBe32(uint8_t* at, uint32_t v) {
  at[0] = static_cast<uint8_t>(v >> 24);
  at[1] = static_cast<uint8_t>(v >> 16);
  at[2] = static_cast<uint8_t>(v >> 8);
  at[3] = static_cast<uint8_t>(v);
}

void FixPngCrcs(Bytes& png) {
  size_t at = 8;
  while (at + 12 <= png.size()) {
    const uint32_t length = (uint32_t{png[at]} << 24) | (png[at + 1] << 16) |
                            (png[at + 2] << 8) | png[at + 3];
    if (length > png.size() - at - 12) return;
    PutBe32(&png[at + 8 + length], Crc32(&png[at + 4], length + 4));
    at += 12 + length;
  }
}

Bytes PngWithSize(uint32_t width, uint32_t height) {
  Bytes png = testing::EncodePngRgb(testing::Pattern(4, 4, 2));
  PutBe32(&png[16], width);
  PutBe32(&png[20], height);
  FixPngCrcs(png);
  return png;
}

// Finds the first SOFn marker of a JPEG and sets the dimensions it states.
Bytes JpegWithSize(uint16_t width, uint16_t height, int precision = 8) {
  Bytes jpeg = testing::EncodeJpeg(testing::Pattern(16, 16, 3), 90);
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xff && (jpeg[i + 1] == 0xc0 || jpeg[i + 1] == 0xc2)) {
      jpeg[i + 4] = static_cast<uint8_t>(precision);
      jpeg[i + 5] = static_cast<uint8_t>(height >> 8);
      jpeg[i + 6] = static_cast<uint8_t>(height);
      jpeg[i + 7] = static_cast<uint8_t>(width >> 8);
      jpeg[i + 8] = static_cast<uint8_t>(width);
      return jpeg;
    }
  }
  ADD_FAILURE() << "no SOF marker";
  return jpeg;
}

// A lossless WebP whose VP8L header states width x height (14 bits each).
Bytes WebpWithSize(uint32_t width, uint32_t height) {
  Bytes webp = testing::EncodeWebp(testing::Pattern(4, 4, 4), /*lossless=*/true);
  EXPECT_EQ(std::string(webp.begin() + 12, webp.begin() + 16), "VP8L");
  const uint32_t bits = (width - 1) | ((height - 1) << 14);
  uint32_t header = webp[21] | (webp[22] << 8) | (webp[23] << 16) | (uint32_t{webp[24]} << 24);
  header = (header & 0xf0000000u) | bits;
  for (int i = 0; i < 4; ++i) webp[21 + i] = static_cast<uint8_t>(header >> (8 * i));
  return webp;
}

// Headers claiming 100000 x 100000 (or the format's maximum) are refused from the header: no
// 30 GB allocation is attempted (under ASan that would abort the test).
TEST(DecodeRobustnessTest, HugeHeadersAreRefusedBeforeAllocating) {
  auto png = DecodeImage(PngWithSize(100000, 100000));
  ASSERT_FALSE(png.ok());
  EXPECT_THAT(std::string(png.status().message()), HasSubstr("100000x100000"));
  auto jpeg = DecodeImage(JpegWithSize(65535, 65535));
  ASSERT_FALSE(jpeg.ok());
  EXPECT_THAT(std::string(jpeg.status().message()), HasSubstr("65535x65535"));
  jpeg = DecodeImage(JpegWithSize(60000, 60000));  // under libjpeg's own limit: ours refuses
  ASSERT_FALSE(jpeg.ok());
  EXPECT_THAT(std::string(jpeg.status().message()),
              HasSubstr("JPEG image is 60000x60000 = 3600000000 pixels; the limit is 89478485"));
  auto webp = DecodeImage(WebpWithSize(16384, 16384));
  ASSERT_FALSE(webp.ok());
  EXPECT_THAT(std::string(webp.status().message()), HasSubstr("16384x16384"));
  // Within the default pixel limit, but over a configured one.
  const DecodeLimits small{.max_pixels = 1000, .max_side = 100};
  for (const Bytes& bytes : {PngWithSize(200, 4), PngWithSize(40, 40)}) {
    const auto decoded = DecodeImage(bytes, small);
    ASSERT_FALSE(decoded.ok());
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("PNG image is"));
  }
}

TEST(DecodeRobustnessTest, ZeroSizes) {
  EXPECT_THAT(std::string(DecodeImage(Bytes{}).status().message()), HasSubstr("empty"));
  for (const Bytes& bytes : {PngWithSize(0, 5), PngWithSize(5, 0), JpegWithSize(0, 16),
                             JpegWithSize(16, 0)}) {
    const auto decoded = DecodeImage(bytes);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(DecodeRobustnessTest, JpegPrecisionOtherThan8IsRefused) {
  for (int precision : {12, 16}) {
    const auto decoded = DecodeImage(JpegWithSize(16, 16, precision));
    ASSERT_FALSE(decoded.ok());
    EXPECT_THAT(std::string(decoded.status().message()),
                HasSubstr(std::to_string(precision) + "-bit JPEG images are not supported"));
  }
}

}  // namespace
}  // namespace tessera::engine
