#include "engine/image/decode.h"

#include <cstring>
#include <string>

#include "engine/image/decode_internal.h"
#include "fmt/format.h"

namespace tessera::engine {
namespace image_internal {

absl::Status CheckDimensions(std::string_view format, int64_t width, int64_t height,
                             const DecodeLimits& limits) {
  if (width <= 0 || height <= 0) {
    return Corrupt(format, fmt::format("the header states an empty image ({}x{})", width, height));
  }
  if (width > limits.max_side || height > limits.max_side) {
    return absl::InvalidArgumentError(
        fmt::format("{} image is {}x{} pixels; the largest side allowed is {} pixels", format,
                    width, height, limits.max_side));
  }
  if (width * height > limits.max_pixels) {
    return absl::InvalidArgumentError(
        fmt::format("{} image is {}x{} = {} pixels; the limit is {} pixels", format, width, height,
                    width * height, limits.max_pixels));
  }
  return absl::OkStatus();
}

absl::Status Corrupt(std::string_view format, std::string_view detail) {
  return absl::InvalidArgumentError(fmt::format("invalid {} image: {}", format, detail));
}

}  // namespace image_internal

std::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageFormat SniffImageFormat(std::span<const uint8_t> encoded) {
  static constexpr uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const auto starts_with = [&](size_t offset, const void* magic, size_t n) {
    return encoded.size() >= offset + n && std::memcmp(encoded.data() + offset, magic, n) == 0;
  };
  if (starts_with(0, "\xff\xd8\xff", 3)) return ImageFormat::kJpeg;
  if (starts_with(0, kPng, sizeof kPng)) return ImageFormat::kPng;
  if (starts_with(0, "RIFF", 4) && starts_with(8, "WEBP", 4)) return ImageFormat::kWebp;
  return ImageFormat::kUnknown;
}

absl::StatusOr<RgbImage> DecodeImage(std::span<const uint8_t> encoded, const DecodeLimits& limits) {
  if (limits.max_pixels <= 0 || limits.max_side <= 0) {
    return absl::InvalidArgumentError(fmt::format(
        "decode limits must be positive (max_pixels {}, max_side {})", limits.max_pixels,
        limits.max_side));
  }
  if (encoded.empty()) return absl::InvalidArgumentError("empty image data (0 bytes)");
  switch (SniffImageFormat(encoded)) {
    case ImageFormat::kJpeg:
      return image_internal::DecodeJpeg(encoded, limits);
    case ImageFormat::kPng:
      return image_internal::DecodePng(encoded, limits);
    case ImageFormat::kWebp:
      return image_internal::DecodeWebp(encoded, limits);
    case ImageFormat::kUnknown:
      break;
  }
  return absl::InvalidArgumentError("unsupported image format; expected JPEG, PNG or WebP");
}

}  // namespace tessera::engine
