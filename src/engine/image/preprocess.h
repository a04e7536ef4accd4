// Preprocessing: a decoded RGB8 image to the model's input tensor, exactly as Hugging Face
// transformers (4.46) ViTImageProcessor / DeiTImageProcessor do it from preprocessor_config.json:
//   1. resize (do_resize) with Pillow's filter `resample` (resample.h) to size {height, width}
//      -- or, for size {shortest_edge: s}, so the shorter side is s and the longer one
//      int(s * long / short), as transformers' get_resize_output_image_size does;
//   2. center crop (do_center_crop, DeiT only) to crop_size, zero-padding (before rescaling)
//      where the crop is larger than the image, with transformers' offsets;
//   3. rescale (do_rescale): float32(double(v) * rescale_factor);
//   4. normalize (do_normalize): (x - mean[c]) / std[c] in float32;
//   5. channels first (CHW).
// Steps 3-4 depend only on the uint8 value and the channel, so they are a 3 x 256 table; the
// result equals transformers' float32 output bit for bit when the resize does.
//
// The processor type decides the defaults and the steps, as in transformers:
//   ViTImageProcessor  (default when the file names no type and has no crop keys): defaults
//     size 224x224, bilinear, mean/std 0.5; has no center crop (crop keys are ignored).
//   DeiTImageProcessor (or no type but crop keys present): defaults size 256x256, bicubic,
//     center crop 224x224, mean/std 0.5.
//   Legacy "...FeatureExtractor" and "...ImageProcessorFast" names map to the same two.
// Integer `size`/`crop_size` mean a square (transformers' default_to_square); [h, w] lists are
// (height, width). {shortest_edge} is transformers' semantics for it (ViT/DeiT processors
// themselves only take {height, width}). Every config must give a fixed output size (a center
// crop, or a {height, width} resize), since a ViT takes one image size.
//
// Thread-safety: a PreprocessConfig is immutable once made; Preprocess may run on any number of
// threads with the same config. Preprocess allocates only intermediate buffers.
#pragma once

#include <array>
#include <filesystem>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/image/decode.h"
#include "engine/image/resample.h"
#include "nlohmann/json.hpp"

namespace tessera::engine {

enum class ImageProcessorType { kVit, kDeit };

struct PreprocessConfig {
  ImageProcessorType processor_type = ImageProcessorType::kVit;

  bool do_resize = true;
  // Resize target: {resize_height, resize_width}, unless shortest_edge > 0.
  int resize_height = 224;
  int resize_width = 224;
  int shortest_edge = 0;
  ResampleFilter resample = ResampleFilter::kBilinear;

  bool do_center_crop = false;
  int crop_height = 224;
  int crop_width = 224;

  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;

  bool do_normalize = true;
  std::array<double, 3> image_mean = {0.5, 0.5, 0.5};  // applied as float32, like numpy
  std::array<double, 3> image_std = {0.5, 0.5, 0.5};

  // Accepted for completeness: decoded images are always RGB already.
  bool do_convert_rgb = true;

  // Parses a preprocessor_config.json object. INVALID_ARGUMENT naming the key for wrong types,
  // impossible values (non-positive sizes, zero std, unknown resample, unsupported size keys)
  // and configs without a fixed output size.
  static absl::StatusOr<PreprocessConfig> FromJson(const nlohmann::json& j);
  // Reads and parses the file; errors name the file.
  static absl::StatusOr<PreprocessConfig> FromFile(const std::filesystem::path& path);

  // OK when the fields are consistent (FromJson's checks, for hand-made configs).
  absl::Status Validate() const;

  // The size of Preprocess's output (per channel).
  int output_height() const;
  int output_width() const;
};

// Writes the preprocessed image, 3 * output_height() * output_width() floats in CHW order, to
// `chw_out`. INVALID_ARGUMENT when chw_out has another size, the image is empty or inconsistent,
// or the config is invalid.
absl::Status Preprocess(const RgbImage& image, const PreprocessConfig& config,
                        std::span<float> chw_out);

}  // namespace tessera::engine
