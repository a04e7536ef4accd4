#include "engine/image/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera::engine {
namespace {

// Python's floor division, as transformers' center_crop uses it: (orig - crop) // 2.
int FloorHalf(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

struct Size {
  int height = 0;
  int width = 0;
};

// The size the resize step produces for an image of in_height x in_width.
Size ResizedSize(const PreprocessConfig& config, int in_height, int in_width) {
  if (!config.do_resize) return {in_height, in_width};
  if (config.shortest_edge <= 0) return {config.resize_height, config.resize_width};
  // transformers' get_resize_output_image_size(default_to_square=False):
  //   new_long = int(size * long / short), computed in float64.
  const bool portrait = in_width <= in_height;
  const int64_t short_side = portrait ? in_width : in_height;
  const int64_t long_side = portrait ? in_height : in_width;
  const int64_t size = config.shortest_edge;
  const double new_long_f = static_cast<double>(size * long_side) / static_cast<double>(short_side);
  const int new_long = new_long_f >= 2147483647.0 ? 2147483647 : static_cast<int>(new_long_f);
  return portrait ? Size{new_long, static_cast<int>(size)} : Size{static_cast<int>(size), new_long};
}

}  // namespace

int PreprocessConfig::output_height() const {
  if (do_center_crop) return crop_height;
  if (do_resize && shortest_edge <= 0) return resize_height;
  return 0;
}

int PreprocessConfig::output_width() const {
  if (do_center_crop) return crop_width;
  if (do_resize && shortest_edge <= 0) return resize_width;
  return 0;
}

absl::Status PreprocessConfig::Validate() const {
  constexpr int kMaxSize = 16384;
  const auto check_size = [&](std::string_view what, int v) -> absl::Status {
    if (v <= 0 || v > kMaxSize) {
      return absl::InvalidArgumentError(
          fmt::format("{} must be between 1 and {}, got {}", what, kMaxSize, v));
    }
    return absl::OkStatus();
  };
  if (do_resize) {
    if (shortest_edge > 0) {
      RETURN_IF_ERROR(check_size("size.shortest_edge", shortest_edge));
    } else {
      RETURN_IF_ERROR(check_size("size.height", resize_height));
      RETURN_IF_ERROR(check_size("size.width", resize_width));
    }
  }
  if (do_center_crop) {
    RETURN_IF_ERROR(check_size("crop_size.height", crop_height));
    RETURN_IF_ERROR(check_size("crop_size.width", crop_width));
  }
  if (output_height() <= 0 || output_width() <= 0) {
    return absl::InvalidArgumentError(
        "the preprocessing output size would depend on each image (no center crop, and no "
        "resize to a fixed {height, width}); a ViT needs one fixed input size");
  }
  if (static_cast<int>(resample) < 0 || static_cast<int>(resample) > 5) {
    return absl::InvalidArgumentError(
        fmt::format("unsupported resample filter {}", static_cast<int>(resample)));
  }
  if (do_rescale && !std::isfinite(rescale_factor)) {
    return absl::InvalidArgumentError("rescale_factor must be a finite number");
  }
  if (do_normalize) {
    for (int c = 0; c < 3; ++c) {
      const float std_f = static_cast<float>(image_std[c]);
      if (!std::isfinite(image_mean[c]) || !std::isfinite(std_f) || std_f == 0.0f) {
        return absl::InvalidArgumentError(fmt::format(
            "image_mean must be finite and image_std finite and non-zero (channel {}: mean {}, "
            "std {})",
            c, image_mean[c], image_std[c]));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Preprocess(const RgbImage& image, const PreprocessConfig& config,
                        std::span<float> chw_out) {
  RETURN_IF_ERROR(config.Validate());
  const int out_h = config.output_height();
  const int out_w = config.output_width();
  const size_t plane = static_cast<size_t>(out_h) * out_w;
  if (chw_out.size() != 3 * plane) {
    return absl::InvalidArgumentError(
        fmt::format("preprocess output buffer holds {} floats; 3x{}x{} needs {}", chw_out.size(),
                    out_h, out_w, 3 * plane));
  }
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError(fmt::format(
        "cannot preprocess a {}x{} image holding {} bytes (expected 3 bytes per pixel)",
        image.width, image.height, image.pixels.size()));
  }

  // Where the output window lies in the resized image: output pixel (y, x) is resized pixel
  // (y + top, x + left), or zero padding outside it (transformers' center_crop pads with zeros
  // and crops at floor((resized - crop) / 2) in both cases).
  const Size resized = ResizedSize(config, image.height, image.width);
  const int top = config.do_center_crop ? FloorHalf(resized.height - out_h) : 0;
  const int left = config.do_center_crop ? FloorHalf(resized.width - out_w) : 0;
  const int y0 = std::max(top, 0);
  const int x0 = std::max(left, 0);
  const int y1 = std::min(top + out_h, resized.height);
  const int x1 = std::min(left + out_w, resized.width);
  const PixelWindow window{.x = x0, .y = y0, .width = x1 - x0, .height = y1 - y0};

  // The window's pixels: resampled, or read straight from the input when no resize happens
  // (Pillow returns a copy when the size does not change).
  std::optional<RgbImage> resampled;
  const uint8_t* src = image.pixels.data();
  size_t src_stride = static_cast<size_t>(image.width) * 3;
  if (resized.height != image.height || resized.width != image.width) {
    ASSIGN_OR_RETURN(resampled,
                     ResizeRgb(image, resized.width, resized.height, config.resample, window));
    src = resampled->pixels.data();
    src_stride = static_cast<size_t>(window.width) * 3;
  } else {
    src += static_cast<size_t>(y0) * src_stride + static_cast<size_t>(x0) * 3;
  }

  // rescale then normalize, per channel and uint8 value, in transformers' dtypes.
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    const float mean = static_cast<float>(config.image_mean[c]);
    const float std_dev = static_cast<float>(config.image_std[c]);
    for (int v = 0; v < 256; ++v) {
      float x = config.do_rescale ? static_cast<float>(static_cast<double>(v) *
                                                       config.rescale_factor)
                                  : static_cast<float>(v);
      if (config.do_normalize) x = (x - mean) / std_dev;
      table[c][v] = x;
    }
  }

  for (int c = 0; c < 3; ++c) {
    float* out = chw_out.data() + c * plane;
    const float pad = table[c][0];
    for (int y = 0; y < out_h; ++y) {
      float* row = out + static_cast<size_t>(y) * out_w;
      const int ry = y + top;  // row in the resized image
      if (ry < y0 || ry >= y1) {
        std::fill(row, row + out_w, pad);
        continue;
      }
      const uint8_t* in = src + static_cast<size_t>(ry - y0) * src_stride + c;
      for (int x = 0; x < out_w; ++x) {
        const int rx = x + left;
        row[x] = (rx < x0 || rx >= x1) ? pad : table[c][in[static_cast<size_t>(rx - x0) * 3]];
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace tessera::engine
