// Test helpers for src/engine/image: small images encoded in-process with the libraries' own
// encoders (libjpeg, spng, libwebp), so the decoder tests need no fixture files, and access to
// the golden fixtures made by tests/fixtures/make_image_fixtures.py.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include "engine/image/decode.h"
#include "nlohmann/json.hpp"

namespace tessera::engine::testing {

using Bytes = std::vector<uint8_t>;

// A deterministic width x height RGB image with gradients, edges and noise.
RgbImage Pattern(int width, int height, uint32_t seed);

// JPEG of `image` (components 3), its luma (components 1) or a CMYK image derived from it
// (components 4, written as libjpeg writes CMYK: Adobe marker, inverted by convention).
Bytes EncodeJpeg(const RgbImage& image, int quality, int components = 3, bool progressive = false);

// PNG with the given IHDR and rows of raw samples in PNG layout (16-bit samples big-endian,
// sub-byte samples packed), optional PLTE (RGB triplets) and tRNS, written with spng.
struct PngSpec {
  int width = 0;
  int height = 0;
  int bit_depth = 8;
  int color_type = 2;
  bool interlaced = false;
  Bytes samples;  // height rows, each ceil(width * channels * bit_depth / 8) bytes
  std::vector<uint8_t> palette;  // 3 bytes per entry
};
Bytes EncodePng(const PngSpec& spec);
// An RGB8 PNG of `image`.
Bytes EncodePngRgb(const RgbImage& image, bool interlaced = false);

// WebP of `image`; with `alpha` (width * height values) an RGBA WebP.
Bytes EncodeWebp(const RgbImage& image, bool lossless, const std::vector<uint8_t>* alpha = nullptr,
                 int quality = 80);

Bytes ReadFile(const std::filesystem::path& path);

// The image fixtures (FixturesDir()/image), or nullopt when they have not been generated.
struct ImageFixtures {
  std::filesystem::path root;
  nlohmann::json index;
};
std::optional<ImageFixtures> LoadImageFixtures();

}  // namespace tessera::engine::testing
