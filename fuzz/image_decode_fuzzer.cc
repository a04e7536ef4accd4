// Image decoding (JPEG, PNG, WebP; the format is sniffed, as for a request body), then the
// preprocessing a ViT applies: errors must be INVALID_ARGUMENT, a decoded image must match its
// stated size and the limits, and the limits must hold before any pixel buffer is allocated
// (libFuzzer's -malloc_limit_mb catches a decoder that allocates from an unchecked header).
#include <vector>

#include "engine/image/decode.h"
#include "engine/image/preprocess.h"
#include "fuzz_util.h"

namespace engine = tessera::engine;
using tessera::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Smaller than the serving defaults so that one input stays fast; the code path is the same.
  const engine::DecodeLimits limits{.max_pixels = 1 << 22, .max_side = 8192};
  absl::StatusOr<engine::RgbImage> image = engine::DecodeImage({data, size}, limits);
  if (!image.ok()) {
    Require(absl::IsInvalidArgument(image.status()), "an error other than INVALID_ARGUMENT");
    return 0;
  }
  Require(image->width > 0 && image->height > 0, "an empty image decoded OK");
  Require(image->width <= limits.max_side && image->height <= limits.max_side,
          "a side over max_side decoded");
  Require(int64_t{image->width} * image->height <= limits.max_pixels, "over max_pixels decoded");
  Require(image->pixels.size() == size_t{3} * image->width * image->height,
          "pixel buffer size != 3 x width x height");

  // ViT's default (224 x 224 bilinear) and DeiT's (bicubic resize, center crop).
  static const engine::PreprocessConfig vit;
  static const engine::PreprocessConfig deit = [] {
    engine::PreprocessConfig c;
    c.processor_type = engine::ImageProcessorType::kDeit;
    c.resize_height = c.resize_width = 256;
    c.resample = engine::ResampleFilter::kBicubic;
    c.do_center_crop = true;
    return c;
  }();
  for (const engine::PreprocessConfig* config : {&vit, &deit}) {
    std::vector<float> chw(size_t{3} * config->output_height() * config->output_width());
    const absl::Status status = engine::Preprocess(*image, *config, chw);
    Require(status.ok(), "Preprocess refused a decoded image");
  }
  return 0;
}
