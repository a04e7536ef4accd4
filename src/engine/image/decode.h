// Image decoding: JPEG (libjpeg-turbo), PNG (libspng) and WebP (libwebp) bytes to RGB8 pixels,
// exactly as Pillow's `Image.open(f).convert("RGB")` produces them (the reference the
// Hugging Face image processors start from):
//   - grayscale is replicated into R, G and B; 1/2/4-bit grayscale is scaled to 0..255;
//   - palette images are looked up in their palette (transparency ignored);
//   - alpha is DROPPED, not composited onto a background (as convert("RGB") does);
//   - 16-bit PNG channels keep their high byte, except 16-bit grayscale, which Pillow opens as
//     32-bit integers ("I" mode) and clips to 0..255 when converting (so most of it is white);
//   - CMYK/YCCK JPEGs are read as Adobe (inverted) CMYK and converted with Pillow's formula;
//   - EXIF orientation is not applied (Image.open does not apply it either);
//   - embedded ICC profiles and PNG gamma are ignored (Pillow ignores them too).
// Refused with INVALID_ARGUMENT and a message a user understands: unknown formats, 12-bit and
// other non-8-bit JPEGs, animated WebP, images over the DecodeLimits (checked from the header,
// before any pixel buffer is allocated), corrupt and truncated data.
//
// Thread-safety: DecodeImage is a pure function; call it from any number of threads.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::engine {

// Largest image a decode may produce. Both are checked against the dimensions the header states,
// before allocating.
struct DecodeLimits {
  int64_t max_pixels = 89'478'485;  // width * height; PIL's Image.MAX_IMAGE_PIXELS
  int max_side = 65'535;            // the larger of width and height
};

// Decoded pixels: height rows of width RGB triplets, row-major, tightly packed (HWC, RGB8).
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // size 3 * width * height
};

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp };

// Returns "JPEG", "PNG", "WebP" or "unknown".
std::string_view ImageFormatName(ImageFormat format);

// Identifies the format from its magic bytes only (never fails; kUnknown when unrecognised).
ImageFormat SniffImageFormat(std::span<const uint8_t> encoded);

// Sniffs the format from magic bytes, reads the dimensions from the header first and refuses
// images over `limits` before allocating, then decodes to RGB8 as described above.
absl::StatusOr<RgbImage> DecodeImage(std::span<const uint8_t> encoded,
                                     const DecodeLimits& limits = DecodeLimits());

}  // namespace tessera::engine
