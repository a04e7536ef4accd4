// PIL-exact resizing: known Pillow outputs (computed with Pillow 9.4 and pasted here, so these
// tests need no fixtures), invariants, windows, and bad arguments.
#include "engine/image/resample.h"

#include <random>
#include <vector>

#include "engine/image/resample_internal.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_images.h"

namespace tessera::engine {
namespace {

RgbImage Make(int width, int height, std::vector<uint8_t> pixels) {
  return RgbImage{.width = width, .height = height, .pixels = std::move(pixels)};
}

// A 7x1 image; Pillow's Image.resize((w, 1), filter) of it, for every filter.
const RgbImage kRow = Make(7, 1, {0,  10, 250, 100, 20, 240, 200, 30, 5,   255, 40,
                                  0,  17, 50,  128, 3,  60, 77,  90, 70, 200});

struct Expected {
  ResampleFilter filter;
  int width;
  std::vector<uint8_t> pixels;
};

TEST(ResampleTest, MatchesPillowOnARow) {
  const std::vector<Expected> cases = {
      {ResampleFilter::kBilinear, 3, {86, 19, 193, 162, 40, 50, 37, 61, 132}},
      {ResampleFilter::kBicubic, 3, {86, 17, 198, 169, 40, 37, 33, 63, 137}},
      {ResampleFilter::kLanczos, 3, {91, 16, 198, 170, 40, 31, 26, 64, 142}},
      {ResampleFilter::kNearest, 3, {100, 20, 240, 255, 40, 0, 3, 60, 77}},
      {ResampleFilter::kBox, 3, {50, 15, 245, 157, 40, 44, 47, 65, 139}},
      {ResampleFilter::kHamming, 3, {74, 17, 214, 182, 40, 35, 38, 63, 131}},
      {ResampleFilter::kBilinear, 11, {0,   10, 250, 45, 15, 245, 109, 21, 219, 173, 27,
                                       69,  220, 34, 3,  255, 40, 0,   104, 46, 81,  13,
                                       53,  114, 4,  59, 82,  50, 65,  144, 90, 70,  200}},
      {ResampleFilter::kBicubic, 11, {0,  9,  251, 36,  14, 255, 109, 21, 226, 176, 27,
                                      59, 236, 34, 0,   255, 40, 0,   99, 46,  89,  0,
                                      53, 122, 0,  59,  76, 53, 66,  146, 96, 71, 209}},
      {ResampleFilter::kLanczos, 11, {0,   9,  244, 31,  13, 255, 112, 21, 224, 171, 28,
                                      62,  248, 33, 0,   255, 40, 0,   105, 47, 98,  0,
                                      52,  121, 0,  59,  75, 59, 67,  144, 99, 71, 214}},
      {ResampleFilter::kNearest, 11, {0,  10, 250, 0,  10, 250, 100, 20, 240, 200, 30,
                                      5,  200, 30, 5,  255, 40, 0,   17, 50,  128, 17,
                                      50, 128, 3,  60, 77,  90, 70,  200, 90, 70,  200}},
      {ResampleFilter::kHamming, 11, {0,   10, 250, 40,  14, 246, 101, 20, 238, 190, 29,
                                      28,  212, 32, 4,   255, 40, 0,   68, 48,  101, 16,
                                      51,  123, 3,  60,  78, 56, 66,  151, 90, 70, 200}},
  };
  for (const Expected& e : cases) {
    const auto out = ResizeRgb(kRow, e.width, 1, e.filter);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_THAT(out->pixels, ::testing::ElementsAreArray(e.pixels))
        << ResampleFilterName(e.filter) << " to width " << e.width;
    const auto portable = image_internal::ResizeRgbImpl(
        kRow, e.width, 1, e.filter, PixelWindow{0, 0, e.width, 1}, /*use_avx2=*/false);
    ASSERT_TRUE(portable.ok());
    EXPECT_EQ(portable->pixels, out->pixels) << "portable kernels";
  }
}

// A 5x4 image resized in both directions (horizontal pass, uint8 rounding, vertical pass).
const RgbImage kBlock = Make(
    5, 4, {106, 152, 249, 131, 184, 200, 0,   21,  253, 147, 202, 107, 249, 169, 138,
           149, 119, 166, 224, 148, 172, 93,  167, 142, 248, 26,  81,  218, 150, 66,
           2,   191, 60,  129, 179, 90,  69,  104, 110, 97,  157, 106, 152, 251, 62,
           7,   248, 171, 33,  123, 79,  176, 37,  20,  94,  49,  149, 127, 206, 244});

TEST(ResampleTest, MatchesPillowIn2D) {
  const auto down = ResizeRgb(kBlock, 3, 2, ResampleFilter::kBicubic);
  ASSERT_TRUE(down.ok());
  EXPECT_THAT(down->pixels, ::testing::ElementsAreArray<uint8_t>(
                                {141, 153, 189, 103, 117, 169, 212, 148, 90, 50, 187, 105, 117,
                                 92, 82, 131, 165, 136}));
  const auto up = ResizeRgb(kBlock, 8, 7, ResampleFilter::kBilinear);
  ASSERT_TRUE(up.ok());
  const std::vector<uint8_t> first_row = {106, 152, 249, 117, 166, 228, 123, 174,
                                          203, 41,  72,  236, 46,  78,  207, 138,
                                          191, 116, 204, 183, 124, 249, 169, 138};
  EXPECT_THAT(std::vector<uint8_t>(up->pixels.begin(), up->pixels.begin() + 24),
              ::testing::ElementsAreArray(first_row));
  const std::vector<uint8_t> last_row = {7,   248, 171, 18,  193, 131, 42,  118,
                                         75,  131, 64,  38,  150, 41,  60,  99,
                                         48,  141, 113, 137, 202, 127, 206, 244};
  EXPECT_THAT(std::vector<uint8_t>(up->pixels.end() - 24, up->pixels.end()),
              ::testing::ElementsAreArray(last_row));
}

// The AVX2 kernels and the portable ones are the same integer arithmetic: same bytes, for
// sizes that exercise partial row blocks and row tails.
TEST(ResampleTest, Avx2AndPortableKernelsAgree) {
  if (!image_internal::CpuHasAvx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(11);
  for (int i = 0; i < 60; ++i) {
    const int in_w = 1 + rng() % 90, in_h = 1 + rng() % 70;
    const int out_w = 1 + rng() % 120, out_h = 1 + rng() % 100;
    const auto filter = static_cast<ResampleFilter>(rng() % 6);
    const RgbImage image = testing::Pattern(in_w, in_h, i);
    const PixelWindow all{0, 0, out_w, out_h};
    const auto fast = image_internal::ResizeRgbImpl(image, out_w, out_h, filter, all, true);
    const auto portable = image_internal::ResizeRgbImpl(image, out_w, out_h, filter, all, false);
    ASSERT_TRUE(fast.ok() && portable.ok());
    ASSERT_EQ(fast->pixels, portable->pixels)
        << in_w << "x" << in_h << " -> " << out_w << "x" << out_h << " "
        << ResampleFilterName(filter);
  }
}

TEST(ResampleTest, ConstantImageStaysConstant) {
  RgbImage flat = Make(37, 23, std::vector<uint8_t>(37 * 23 * 3));
  for (size_t i = 0; i < flat.pixels.size(); ++i) flat.pixels[i] = static_cast<uint8_t>(60 + (i % 3) * 90);
  for (int f = 0; f <= 5; ++f) {
    for (auto [w, h] : {std::pair{5, 3}, {80, 51}, {37, 9}, {1, 1}}) {
      const auto out = ResizeRgb(flat, w, h, static_cast<ResampleFilter>(f));
      ASSERT_TRUE(out.ok());
      for (size_t i = 0; i < out->pixels.size(); ++i) {
        ASSERT_EQ(out->pixels[i], 60 + (i % 3) * 90) << "filter " << f << " size " << w << "x" << h;
      }
    }
  }
}

TEST(ResampleTest, SameSizeIsTheIdentity) {
  const RgbImage image = testing::Pattern(19, 11, 1);
  for (int f = 0; f <= 5; ++f) {
    const auto out = ResizeRgb(image, 19, 11, static_cast<ResampleFilter>(f));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->pixels, image.pixels) << "filter " << f;
  }
}

// A window of the result is exactly that crop of the full result.
TEST(ResampleTest, WindowEqualsCropOfFullResize) {
  const RgbImage image = testing::Pattern(97, 61, 2);
  for (int f = 0; f <= 5; ++f) {
    const auto filter = static_cast<ResampleFilter>(f);
    for (auto [w, h] : {std::pair{40, 30}, {150, 90}, {97, 33}, {20, 61}}) {
      const auto full = ResizeRgb(image, w, h, filter);
      ASSERT_TRUE(full.ok());
      const PixelWindow window{.x = w / 5, .y = h / 3, .width = w / 2, .height = h / 2};
      const auto part = ResizeRgb(image, w, h, filter, window);
      ASSERT_TRUE(part.ok());
      ASSERT_EQ(part->width, window.width);
      ASSERT_EQ(part->height, window.height);
      for (int y = 0; y < window.height; ++y) {
        for (int x = 0; x < window.width * 3; ++x) {
          ASSERT_EQ(part->pixels[y * window.width * 3 + x],
                    full->pixels[(window.y + y) * w * 3 + window.x * 3 + x])
              << ResampleFilterName(filter) << " " << w << "x" << h;
        }
      }
    }
  }
}

TEST(ResampleTest, RefusesBadArguments) {
  const RgbImage image = testing::Pattern(8, 8, 3);
  EXPECT_EQ(ResizeRgb(image, 0, 4, ResampleFilter::kBilinear).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResizeRgb(image, 4, -1, ResampleFilter::kBilinear).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResizeRgb(RgbImage{}, 4, 4, ResampleFilter::kBilinear).status().code(),
            absl::StatusCode::kInvalidArgument);
  RgbImage short_buffer = image;
  short_buffer.pixels.pop_back();
  EXPECT_EQ(ResizeRgb(short_buffer, 4, 4, ResampleFilter::kBilinear).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResizeRgb(image, 4, 4, ResampleFilter::kBilinear,
                      PixelWindow{.x = 2, .y = 0, .width = 3, .height = 4})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ResampleFilterFromPil(6).ok());
  EXPECT_FALSE(ResampleFilterFromPil(-1).ok());
  EXPECT_EQ(*ResampleFilterFromPil(3), ResampleFilter::kBicubic);
}

}  // namespace
}  // namespace tessera::engine
