// Resizing RGB8 images exactly as Pillow's `Image.resize(size, resample)` does for an "RGB"
// image (whole-image box, no reducing_gap: what Hugging Face image processors call). This is
// Pillow's ImagingResample re-implemented: a separable convolution (horizontal pass, then
// vertical) whose filter support grows with the downscaling factor (antialiasing), with
// coefficients computed in double, normalised to sum 1, quantised to 22 fractional bits, and
// sums rounded and clipped to uint8 after each pass; NEAREST is Pillow's affine nearest
// neighbour (pixel centres, accumulated in double). Results match Pillow bit for bit.
//
// Thread-safety: pure functions; buffers are allocated per call.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/image/decode.h"

namespace tessera::engine {

// Pillow's Image.Resampling values, as preprocessor_config.json's "resample" states them.
enum class ResampleFilter : int {
  kNearest = 0,
  kLanczos = 1,
  kBilinear = 2,
  kBicubic = 3,
  kBox = 4,
  kHamming = 5,
};

// INVALID_ARGUMENT for values outside 0..5.
absl::StatusOr<ResampleFilter> ResampleFilterFromPil(int pil_value);
// "nearest", "lanczos", "bilinear", "bicubic", "box", "hamming".
std::string_view ResampleFilterName(ResampleFilter filter);

// A rectangle of a resized image: columns [x, x + width), rows [y, y + height).
struct PixelWindow {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// Resizes `in` to out_width x out_height as Pillow does and returns the `window` of that result
// (computing only what the window needs: a crop after a resize costs only the crop). The window
// must lie inside the resized image, and both images must be non-empty; else INVALID_ARGUMENT.
absl::StatusOr<RgbImage> ResizeRgb(const RgbImage& in, int out_width, int out_height,
                                   ResampleFilter filter, const PixelWindow& window);
// The whole resized image.
absl::StatusOr<RgbImage> ResizeRgb(const RgbImage& in, int out_width, int out_height,
                                   ResampleFilter filter);

}  // namespace tessera::engine
