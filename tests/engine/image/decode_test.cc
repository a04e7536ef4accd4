// Decoding semantics, on images encoded in-process (no fixtures needed): format sniffing,
// Pillow's conversions to RGB for every PNG colour type and bit depth, JPEG (gray, CMYK, EXIF),
// WebP (lossless, alpha, animation), limits. Pixel-exact comparison with Pillow itself is in
// golden_test.cc.
#include "engine/image/decode.h"

#include <cmath>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jpeglib.h"
#include "test_images.h"

namespace tessera::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::Bytes;
using testing::PngSpec;

RgbImage MustDecode(const Bytes& bytes, const DecodeLimits& limits = DecodeLimits()) {
  auto decoded = DecodeImage(bytes, limits);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  return decoded.ok() ? *std::move(decoded) : RgbImage();
}

// The R channel of each pixel (for gray images, where R == G == B is checked too).
std::vector<int> Gray(const RgbImage& image) {
  std::vector<int> out;
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    EXPECT_EQ(image.pixels[i], image.pixels[i + 1]);
    EXPECT_EQ(image.pixels[i], image.pixels[i + 2]);
    out.push_back(image.pixels[i]);
  }
  return out;
}

double MeanAbsDiff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  double sum = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) sum += std::abs(int{a[i]} - int{b[i]});
  return sum / a.size();
}

Bytes Be16(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  }
  return out;
}

TEST(DecodeTest, SniffsFormats) {
  EXPECT_EQ(SniffImageFormat(testing::EncodeJpeg(testing::Pattern(8, 8, 1), 90)),
            ImageFormat::kJpeg);
  EXPECT_EQ(SniffImageFormat(testing::EncodePngRgb(testing::Pattern(8, 8, 1))), ImageFormat::kPng);
  EXPECT_EQ(SniffImageFormat(testing::EncodeWebp(testing::Pattern(8, 8, 1), true)),
            ImageFormat::kWebp);
  const Bytes wave = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E'};
  EXPECT_EQ(SniffImageFormat(wave), ImageFormat::kUnknown);
  EXPECT_EQ(SniffImageFormat(Bytes{0xff, 0xd8}), ImageFormat::kUnknown);
  EXPECT_EQ(SniffImageFormat(Bytes{}), ImageFormat::kUnknown);
  EXPECT_EQ(ImageFormatName(ImageFormat::kWebp), "WebP");
}

TEST(DecodeTest, RefusesOtherFormats) {
  for (const std::string& data : {std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
                                  std::string("BM\x1e\x00\x00\x00\x00\x00"),
                                  std::string("II*\x00\x08\x00\x00\x00"), std::string("hello")}) {
    const auto decoded = DecodeImage(Bytes(data.begin(), data.end()));
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(decoded.status().message(), "unsupported image format; expected JPEG, PNG or WebP");
  }
}

TEST(DecodeTest, PngRgbIsLossless) {
  const RgbImage image = testing::Pattern(37, 23, 2);
  for (bool interlaced : {false, true}) {
    const RgbImage decoded = MustDecode(testing::EncodePngRgb(image, interlaced));
    EXPECT_EQ(decoded.width, 37);
    EXPECT_EQ(decoded.height, 23);
    EXPECT_EQ(decoded.pixels, image.pixels) << "interlaced " << interlaced;
  }
}

// Pillow: 1-bit "1" -> 0/255, 2-bit "L;2" -> *85, 4-bit "L;4" -> *17.
TEST(DecodeTest, PngLowBitDepthGrayIsScaled) {
  PngSpec spec{.width = 4, .height = 1, .bit_depth = 2, .color_type = 0};
  spec.samples = {0b00011011};
  EXPECT_THAT(Gray(MustDecode(testing::EncodePng(spec))), ElementsAre(0, 85, 170, 255));
  spec.bit_depth = 4;
  spec.samples = {0x0f, 0x7a};
  EXPECT_THAT(Gray(MustDecode(testing::EncodePng(spec))), ElementsAre(0, 255, 119, 170));
  spec.bit_depth = 1;
  spec.samples = {0b10100000};
  EXPECT_THAT(Gray(MustDecode(testing::EncodePng(spec))), ElementsAre(255, 0, 255, 0));
}

// Pillow opens 16-bit grayscale as 32-bit "I" and convert("RGB") clips it to 0..255.
TEST(DecodeTest, Png16BitGrayIsClippedNotScaled) {
  PngSpec spec{.width = 6, .height = 1, .bit_depth = 16, .color_type = 0};
  spec.samples = Be16({0, 100, 254, 255, 256, 65535});
  EXPECT_THAT(Gray(MustDecode(testing::EncodePng(spec))), ElementsAre(0, 100, 254, 255, 255, 255));
}

// 16-bit RGB, RGBA and gray+alpha keep the high byte; alpha is dropped, never composited.
TEST(DecodeTest, Png16BitKeepsHighByteAndAlphaIsDropped) {
  PngSpec rgb16{.width = 2, .height = 1, .bit_depth = 16, .color_type = 2};
  rgb16.samples = Be16({0x12ff, 0xff00, 0x00ff, 0x8081, 0x7f7f, 0x0100});
  EXPECT_THAT(MustDecode(testing::EncodePng(rgb16)).pixels,
              ElementsAre(0x12, 0xff, 0x00, 0x80, 0x7f, 0x01));
  PngSpec rgba16{.width = 1, .height = 1, .bit_depth = 16, .color_type = 6};
  rgba16.samples = Be16({0xabcd, 0x1234, 0xfffe, 0x0000});
  EXPECT_THAT(MustDecode(testing::EncodePng(rgba16)).pixels, ElementsAre(0xab, 0x12, 0xff));
  PngSpec ga16{.width = 2, .height = 1, .bit_depth = 16, .color_type = 4};
  ga16.samples = Be16({0x1234, 0xffff, 0xabcd, 0x0001});
  EXPECT_THAT(Gray(MustDecode(testing::EncodePng(ga16))), ElementsAre(0x12, 0xab));
  PngSpec ga8{.width = 2, .height = 1, .bit_depth = 8, .color_type = 4};
  ga8.samples = {200, 0, 7, 255};
  EXPECT_THAT(Gray(MustDecode(testing::EncodePng(ga8))), ElementsAre(200, 7));
  // Fully transparent pixels keep their colour (convert("RGB") does not composite).
  PngSpec rgba8{.width = 2, .height = 1, .bit_depth = 8, .color_type = 6};
  rgba8.samples = {10, 20, 30, 0, 40, 50, 60, 128};
  EXPECT_THAT(MustDecode(testing::EncodePng(rgba8)).pixels, ElementsAre(10, 20, 30, 40, 50, 60));
}

// Palette lookup; indices past the end of PLTE read Pillow's default palette, gray (i, i, i).
TEST(DecodeTest, PngPaletteLookupWithShortPalette) {
  PngSpec spec{.width = 4, .height = 1, .bit_depth = 8, .color_type = 3};
  spec.palette = {10, 20, 30, 40, 50, 60};
  spec.samples = {0, 1, 5, 200};
  EXPECT_THAT(MustDecode(testing::EncodePng(spec)).pixels,
              ElementsAre(10, 20, 30, 40, 50, 60, 5, 5, 5, 200, 200, 200));
  spec.bit_depth = 2;
  spec.palette = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  spec.samples = {0b00011011};
  EXPECT_THAT(MustDecode(testing::EncodePng(spec)).pixels,
              ElementsAre(10, 20, 30, 40, 50, 60, 70, 80, 90, 3, 3, 3));
}

TEST(DecodeTest, JpegRgbAndGray) {
  const RgbImage image = testing::Pattern(40, 24, 3);
  const RgbImage rgb = MustDecode(testing::EncodeJpeg(image, 100));
  ASSERT_EQ(rgb.width, 40);
  ASSERT_EQ(rgb.height, 24);
  // Lossy (4:2:0 chroma) but close; a wrong colour space or channel order is far off.
  EXPECT_LE(MeanAbsDiff(rgb.pixels, image.pixels), 6.0);
  const RgbImage gray = MustDecode(testing::EncodeJpeg(image, 90, 1));
  EXPECT_EQ(Gray(gray).size(), 40u * 24u);  // R == G == B everywhere
}

// Raw CMYK samples as libjpeg decodes them (before Pillow's Adobe inversion).
std::vector<uint8_t> RawCmyk(const Bytes& jpeg) {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, jpeg.data(), jpeg.size());
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_CMYK;
  jpeg_start_decompress(&cinfo);
  std::vector<uint8_t> out(cinfo.output_width * cinfo.output_height * 4);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = &out[cinfo.output_scanline * cinfo.output_width * 4];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return out;
}

// Pillow reads CMYK JPEG as inverted ("CMYK;I"): c' = 255 - c, k' = 255 - k, and converts with
// r = (255 - k') - round(c' * (255 - k') / 255).
TEST(DecodeTest, JpegCmykAsPillow) {
  const Bytes jpeg = testing::EncodeJpeg(testing::Pattern(24, 16, 4), 90, 4);
  const std::vector<uint8_t> cmyk = RawCmyk(jpeg);
  const RgbImage rgb = MustDecode(jpeg);
  ASSERT_EQ(rgb.pixels.size(), cmyk.size() / 4 * 3);
  for (size_t p = 0; p < cmyk.size() / 4; ++p) {
    const int nk = cmyk[4 * p + 3];
    for (int c = 0; c < 3; ++c) {
      const int inverted = 255 - cmyk[4 * p + c];
      const int expected = nk - static_cast<int>(std::lround(inverted * nk / 255.0));
      ASSERT_EQ(rgb.pixels[3 * p + c], expected) << "pixel " << p << " channel " << c;
    }
  }
}

// An APP1 Exif segment with Orientation = 6 (rotate 90) right after SOI.
Bytes WithExifOrientation6(const Bytes& jpeg) {
  const Bytes tiff = {'M', 'M', 0, 42, 0, 0, 0, 8,  // big-endian TIFF header, IFD at 8
                      0, 1,                          // one entry
                      0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0,  // Orientation SHORT 1 = 6
                      0, 0, 0, 0};                                // no next IFD
  Bytes app1 = {0xff, 0xe1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  app1[2] = static_cast<uint8_t>((app1.size() - 2) >> 8);
  app1[3] = static_cast<uint8_t>(app1.size() - 2);
  Bytes out(jpeg.begin(), jpeg.begin() + 2);
  out.insert(out.end(), app1.begin(), app1.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

TEST(DecodeTest, JpegExifOrientationIsNotApplied) {
  const Bytes plain = testing::EncodeJpeg(testing::Pattern(32, 16, 5), 90);
  const RgbImage a = MustDecode(plain);
  const RgbImage b = MustDecode(WithExifOrientation6(plain));
  EXPECT_EQ(b.width, 32);
  EXPECT_EQ(b.height, 16);
  EXPECT_EQ(a.pixels, b.pixels);
}

TEST(DecodeTest, WebpLosslessAndAlpha) {
  const RgbImage image = testing::Pattern(30, 20, 6);
  EXPECT_EQ(MustDecode(testing::EncodeWebp(image, /*lossless=*/true)).pixels, image.pixels);
  std::vector<uint8_t> alpha(30 * 20);
  for (size_t i = 0; i < alpha.size(); ++i) alpha[i] = static_cast<uint8_t>(1 + i % 255);
  EXPECT_EQ(MustDecode(testing::EncodeWebp(image, /*lossless=*/true, &alpha)).pixels,
            image.pixels);
  const RgbImage lossy = MustDecode(testing::EncodeWebp(image, /*lossless=*/false, &alpha, 95));
  ASSERT_EQ(lossy.pixels.size(), image.pixels.size());
  EXPECT_LE(MeanAbsDiff(lossy.pixels, image.pixels), 8.0);
}

TEST(DecodeTest, AnimatedWebpIsRefused) {
  // RIFF WEBP with a VP8X chunk whose flags say "animation", then an ANIM chunk.
  Bytes webp = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P',
                'V', 'P', '8', 'X', 10, 0, 0, 0, 0x02, 0, 0, 0, 15, 0, 0, 9, 0, 0,
                'A', 'N', 'I', 'M', 6, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  webp[4] = static_cast<uint8_t>(webp.size() - 8);
  const auto decoded = DecodeImage(webp);
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("animated WebP"));
}

TEST(DecodeTest, LimitsAreInclusiveAndConfigurable) {
  for (const Bytes& bytes : {testing::EncodePngRgb(testing::Pattern(21, 13, 7)),
                             testing::EncodeJpeg(testing::Pattern(21, 13, 7), 90),
                             testing::EncodeWebp(testing::Pattern(21, 13, 7), true)}) {
    const std::string format(ImageFormatName(SniffImageFormat(bytes)));
    EXPECT_TRUE(DecodeImage(bytes, {.max_pixels = 273, .max_side = 21}).ok()) << format;
    auto over = DecodeImage(bytes, {.max_pixels = 272, .max_side = 21});
    ASSERT_FALSE(over.ok()) << format;
    EXPECT_THAT(std::string(over.status().message()),
                HasSubstr(format + " image is 21x13 = 273 pixels; the limit is 272 pixels"));
    over = DecodeImage(bytes, {.max_pixels = 1000, .max_side = 20});
    ASSERT_FALSE(over.ok()) << format;
    EXPECT_THAT(std::string(over.status().message()),
                HasSubstr("the largest side allowed is 20 pixels"));
  }
  const auto invalid = DecodeImage(testing::EncodePngRgb(testing::Pattern(2, 2, 8)),
                                   {.max_pixels = 0, .max_side = 10});
  ASSERT_FALSE(invalid.ok());
  EXPECT_THAT(std::string(invalid.status().message()), HasSubstr("decode limits must be positive"));
}

}  // namespace
}  // namespace tessera::engine
