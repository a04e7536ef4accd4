// Internal to src/engine/image: the per-format decoders behind DecodeImage (decode.h) and the
// helpers they share. Same contract as DecodeImage; each assumes its format was sniffed.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/image/decode.h"

namespace tessera::engine::image_internal {

// OK when a `format` image of width x height fits `limits` (and is not empty); otherwise an
// INVALID_ARGUMENT naming the format, the size and the limit. Call before allocating pixels.
absl::Status CheckDimensions(std::string_view format, int64_t width, int64_t height,
                             const DecodeLimits& limits);

// INVALID_ARGUMENT "invalid <format> image: <detail>".
absl::Status Corrupt(std::string_view format, std::string_view detail);

absl::StatusOr<RgbImage> DecodeJpeg(std::span<const uint8_t> encoded, const DecodeLimits& limits);
absl::StatusOr<RgbImage> DecodePng(std::span<const uint8_t> encoded, const DecodeLimits& limits);
absl::StatusOr<RgbImage> DecodeWebp(std::span<const uint8_t> encoded, const DecodeLimits& limits);

}  // namespace tessera::engine::image_internal
