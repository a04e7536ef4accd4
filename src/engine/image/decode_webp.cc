// WebP through libwebp, decoded straight to RGB. Pillow (9.4, built with WebPAnimDecoder)
// decodes the first frame to non-premultiplied RGBA with libwebp's default options (fancy
// upsampling) and convert("RGB") drops the alpha; the RGB samples libwebp produces do not depend
// on whether alpha is written, so decoding to MODE_RGB gives the same pixels. Animated WebP is
// refused (a model input is one picture).
#include "common/status_macros.h"
#include "engine/image/decode_internal.h"
#include "fmt/format.h"
#include "webp/decode.h"

namespace tessera::engine::image_internal {
namespace {

constexpr std::string_view kWebpName = "WebP";

absl::Status WebpError(VP8StatusCode code) {
  switch (code) {
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return Corrupt(kWebpName, "the data is truncated");
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return Corrupt(kWebpName, "it uses a feature libwebp does not support");
    case VP8_STATUS_OUT_OF_MEMORY:
      return absl::ResourceExhaustedError("out of memory decoding a WebP image");
    default:
      return Corrupt(kWebpName, fmt::format("bitstream error (libwebp status {})",
                                          static_cast<int>(code)));
  }
}

}  // namespace

absl::StatusOr<RgbImage> DecodeWebp(std::span<const uint8_t> encoded, const DecodeLimits& limits) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) {
    return absl::InternalError("libwebp version mismatch (WebPInitDecoderConfig failed)");
  }
  if (VP8StatusCode rc = WebPGetFeatures(encoded.data(), encoded.size(), &config.input);
      rc != VP8_STATUS_OK) {
    return WebpError(rc);
  }
  if (config.input.has_animation) {
    return absl::InvalidArgumentError(
        "animated WebP images are not supported; send a single still image");
  }
  RETURN_IF_ERROR(CheckDimensions(kWebpName, config.input.width, config.input.height, limits));

  RgbImage image;
  image.width = config.input.width;
  image.height = config.input.height;
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = image.pixels.data();
  config.output.u.RGBA.stride = image.width * 3;
  config.output.u.RGBA.size = image.pixels.size();
  const VP8StatusCode rc = WebPDecode(encoded.data(), encoded.size(), &config);
  const bool same_size =
      config.output.width == image.width && config.output.height == image.height;
  WebPFreeDecBuffer(&config.output);  // frees nothing for external memory, but is the contract
  if (rc != VP8_STATUS_OK) return WebpError(rc);
  if (!same_size) return Corrupt(kWebpName, "the decoded size differs from the header");
  return image;
}

}  // namespace tessera::engine::image_internal
