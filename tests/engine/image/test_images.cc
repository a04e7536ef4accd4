#include "test_images.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "gtest/gtest.h"
#include "jpeglib.h"
#include "spng.h"
#include "testing/test_paths.h"
#include "webp/encode.h"

namespace tessera::engine::testing {

RgbImage Pattern(int width, int height, uint32_t seed) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  std::mt19937 rng(seed);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) {
        int v = (x * (3 + c) * 255) / (width + height) + (y * (5 - c) * 255) / (width + height);
        if (((x / 7) + (y / 5) + c) % 2) v += 80;
        v += static_cast<int>(rng() % 40);
        image.pixels[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(std::min(v, 255));
      }
    }
  }
  return image;
}

Bytes EncodeJpeg(const RgbImage& image, int quality, int components, bool progressive) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);  // inputs here are valid; libjpeg exits on a bug
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  jpeg_mem_dest(&cinfo, &out, &out_size);
  cinfo.image_width = image.width;
  cinfo.image_height = image.height;
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : (components == 4 ? JCS_CMYK : JCS_RGB);
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(image.width) * components);
  while (cinfo.next_scanline < cinfo.image_height) {
    const uint8_t* rgb = image.pixels.data() + static_cast<size_t>(cinfo.next_scanline) * image.width * 3;
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = rgb + 3 * x;
      if (components == 1) {
        row[x] = static_cast<uint8_t>((p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000);
      } else if (components == 3) {
        std::memcpy(&row[3 * x], p, 3);
      } else {
        row[4 * x] = p[0];
        row[4 * x + 1] = p[1];
        row[4 * x + 2] = p[2];
        row[4 * x + 3] = static_cast<uint8_t>((p[0] + p[2]) / 2);
      }
    }
    JSAMPROW rows[1] = {row.data()};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  Bytes bytes(out, out + out_size);
  free(out);
  return bytes;
}

Bytes EncodePng(const PngSpec& spec) {
  spng_ctx* ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = spec.width;
  ihdr.height = spec.height;
  ihdr.bit_depth = static_cast<uint8_t>(spec.bit_depth);
  ihdr.color_type = static_cast<uint8_t>(spec.color_type);
  ihdr.interlace_method = spec.interlaced ? SPNG_INTERLACE_ADAM7 : SPNG_INTERLACE_NONE;
  EXPECT_EQ(spng_set_ihdr(ctx, &ihdr), 0);
  if (!spec.palette.empty()) {
    spng_plte plte{};
    plte.n_entries = static_cast<uint32_t>(spec.palette.size() / 3);
    for (uint32_t i = 0; i < plte.n_entries; ++i) {
      plte.entries[i].red = spec.palette[3 * i];
      plte.entries[i].green = spec.palette[3 * i + 1];
      plte.entries[i].blue = spec.palette[3 * i + 2];
    }
    EXPECT_EQ(spng_set_plte(ctx, &plte), 0);
  }
  // spng takes SPNG_FMT_PNG samples host-endian; the spec holds them big-endian.
  Bytes samples = spec.samples;
  if (spec.bit_depth == 16) {
    for (size_t i = 0; i + 1 < samples.size(); i += 2) std::swap(samples[i], samples[i + 1]);
  }
  const int rc = spng_encode_image(ctx, samples.data(), samples.size(), SPNG_FMT_PNG,
                                   SPNG_ENCODE_FINALIZE);
  EXPECT_EQ(rc, 0) << spng_strerror(rc);
  size_t size = 0;
  int error = 0;
  auto* buffer = static_cast<uint8_t*>(spng_get_png_buffer(ctx, &size, &error));
  Bytes bytes;
  if (buffer != nullptr) bytes.assign(buffer, buffer + size);
  free(buffer);
  spng_ctx_free(ctx);
  return bytes;
}

Bytes EncodePngRgb(const RgbImage& image, bool interlaced) {
  PngSpec spec;
  spec.width = image.width;
  spec.height = image.height;
  spec.interlaced = interlaced;
  spec.samples = image.pixels;
  return EncodePng(spec);
}

Bytes EncodeWebp(const RgbImage& image, bool lossless, const std::vector<uint8_t>* alpha,
                 int quality) {
  uint8_t* out = nullptr;
  size_t size = 0;
  if (alpha == nullptr) {
    size = lossless ? WebPEncodeLosslessRGB(image.pixels.data(), image.width, image.height,
                                            image.width * 3, &out)
                    : WebPEncodeRGB(image.pixels.data(), image.width, image.height,
                                    image.width * 3, quality, &out);
  } else {
    std::vector<uint8_t> rgba(static_cast<size_t>(image.width) * image.height * 4);
    for (size_t i = 0; i < rgba.size() / 4; ++i) {
      std::memcpy(&rgba[4 * i], &image.pixels[3 * i], 3);
      rgba[4 * i + 3] = (*alpha)[i];
    }
    size = lossless ? WebPEncodeLosslessRGBA(rgba.data(), image.width, image.height,
                                             image.width * 4, &out)
                    : WebPEncodeRGBA(rgba.data(), image.width, image.height, image.width * 4,
                                     quality, &out);
  }
  Bytes bytes(out, out + size);
  WebPFree(out);
  return bytes;
}

Bytes ReadFile(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << "cannot open " << path;
  return Bytes(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

std::optional<ImageFixtures> LoadImageFixtures() {
  const std::filesystem::path root = tessera::testing::FixturesDir() / "image";
  const std::filesystem::path index_path = root / "index.json";
  if (!std::filesystem::is_regular_file(index_path)) return std::nullopt;
  std::ifstream file(index_path);
  std::stringstream text;
  text << file.rdbuf();
  return ImageFixtures{root, nlohmann::json::parse(text.str())};
}

}  // namespace tessera::engine::testing
