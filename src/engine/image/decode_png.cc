// PNG through libspng. spng decodes (and deinterlaces) to the PNG's own sample format
// (SPNG_FMT_PNG: no conversion, 16-bit samples host-endian, sub-byte samples packed); the
// conversion to RGB8 is ours, following Pillow's modes and its convert("RGB"):
//   gray 1-bit  -> mode "1": 0 or 255          gray 2/4-bit -> "L;2"/"L;4": scaled to 0..255
//   gray 8-bit  -> "L": replicated             gray 16-bit  -> "I": clipped to 0..255
//   gray+alpha  -> "LA" (16-bit: high byte)    RGB(A) 16-bit -> high byte of each channel
//   palette     -> PLTE lookup; an index past the end of PLTE reads Pillow's default
//                  palette entry, the gray (i, i, i)
// tRNS, gAMA, sBIT and iCCP are ignored, as convert("RGB") ignores them.
#include <cstring>
#include <memory>
#include <vector>

#include "common/status_macros.h"
#include "engine/image/decode_internal.h"
#include "fmt/format.h"
#include "spng.h"

namespace tessera::engine::image_internal {
namespace {

constexpr std::string_view kPngName = "PNG";
// Cap on the memory spng may spend on ancillary chunks (text, ICC profiles, ...).
constexpr size_t kMaxChunkBytes = 64u << 20;

struct SpngFree {
  void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};

absl::Status SpngError(int code) {
  if (code == SPNG_EOF || code == SPNG_IO_EOF || code == SPNG_EIDAT_TOO_SHORT) {
    return Corrupt(kPngName, "the data is truncated");
  }
  return Corrupt(kPngName, spng_strerror(code));
}

// Sample `i` of a packed row of `bit_depth`-bit samples (1, 2, 4 or 8), most significant first.
inline int PackedSample(const uint8_t* row, size_t i, int bit_depth) {
  if (bit_depth == 8) return row[i];
  const size_t bit = i * bit_depth;
  const int shift = 8 - bit_depth - static_cast<int>(bit % 8);
  return (row[bit / 8] >> shift) & ((1 << bit_depth) - 1);
}

// Converts one decoded row (PNG sample format) to `width` RGB8 pixels.
void ConvertRow(const spng_ihdr& ihdr, const uint8_t (&palette)[256][3], const uint8_t* in,
                uint8_t* out) {
  const size_t width = ihdr.width;
  const int depth = ihdr.bit_depth;
  const auto* in16 = reinterpret_cast<const uint16_t*>(in);  // host-endian, 2-byte aligned rows
  const auto put_gray = [&](size_t x, int v) {
    out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = static_cast<uint8_t>(v);
  };
  switch (ihdr.color_type) {
    case SPNG_COLOR_TYPE_GRAYSCALE:
      for (size_t x = 0; x < width; ++x) {
        if (depth == 16) {
          put_gray(x, in16[x] > 255 ? 255 : in16[x]);
        } else {
          // 1-bit: 0/255; 2-bit: *85; 4-bit: *17; 8-bit: as is.
          put_gray(x, PackedSample(in, x, depth) * (255 / ((1 << depth) - 1)));
        }
      }
      break;
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA:
      for (size_t x = 0; x < width; ++x) put_gray(x, depth == 16 ? in16[2 * x] >> 8 : in[2 * x]);
      break;
    case SPNG_COLOR_TYPE_TRUECOLOR:
    case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: {
      const size_t channels = ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR ? 3 : 4;
      for (size_t x = 0; x < width; ++x) {
        for (size_t c = 0; c < 3; ++c) {
          out[3 * x + c] = depth == 16 ? static_cast<uint8_t>(in16[channels * x + c] >> 8)
                                       : in[channels * x + c];
        }
      }
      break;
    }
    case SPNG_COLOR_TYPE_INDEXED:
      for (size_t x = 0; x < width; ++x) {
        std::memcpy(out + 3 * x, palette[PackedSample(in, x, depth)], 3);
      }
      break;
    default:
      break;  // rejected before decoding
  }
}

}  // namespace

absl::StatusOr<RgbImage> DecodePng(std::span<const uint8_t> encoded, const DecodeLimits& limits) {
  std::unique_ptr<spng_ctx, SpngFree> ctx(spng_ctx_new(0));
  if (ctx == nullptr) return absl::ResourceExhaustedError("cannot create a PNG decoder");
  spng_set_chunk_limits(ctx.get(), kMaxChunkBytes, kMaxChunkBytes);
  const uint32_t max_side = static_cast<uint32_t>(limits.max_side);
  spng_set_image_limits(ctx.get(), max_side, max_side);
  if (int rc = spng_set_png_buffer(ctx.get(), encoded.data(), encoded.size()); rc != 0) {
    return SpngError(rc);
  }
  spng_ihdr ihdr{};
  if (int rc = spng_get_ihdr(ctx.get(), &ihdr); rc != 0) {
    if (rc == SPNG_EUSER_WIDTH || rc == SPNG_EUSER_HEIGHT || rc == SPNG_EWIDTH ||
        rc == SPNG_EHEIGHT) {
      // spng refuses before we see the IHDR; read the size ourselves for a useful message.
      if (encoded.size() >= 24) {
        const auto be32 = [&](size_t at) {
          return (int64_t{encoded[at]} << 24) | (encoded[at + 1] << 16) |
                 (encoded[at + 2] << 8) | encoded[at + 3];
        };
        RETURN_IF_ERROR(CheckDimensions(kPngName, be32(16), be32(20), limits));
      }
    }
    return SpngError(rc);
  }
  RETURN_IF_ERROR(CheckDimensions(kPngName, ihdr.width, ihdr.height, limits));

  uint8_t palette[256][3];
  for (int i = 0; i < 256; ++i) palette[i][0] = palette[i][1] = palette[i][2] = i;
  if (ihdr.color_type == SPNG_COLOR_TYPE_INDEXED) {
    spng_plte plte{};
    if (int rc = spng_get_plte(ctx.get(), &plte); rc != 0) return SpngError(rc);
    for (uint32_t i = 0; i < plte.n_entries && i < 256; ++i) {
      palette[i][0] = plte.entries[i].red;
      palette[i][1] = plte.entries[i].green;
      palette[i][2] = plte.entries[i].blue;
    }
  }

  size_t decoded_size = 0;
  if (int rc = spng_decoded_image_size(ctx.get(), SPNG_FMT_PNG, &decoded_size); rc != 0) {
    return SpngError(rc);
  }
  const size_t height = ihdr.height;
  if (decoded_size == 0 || decoded_size % height != 0) {
    return Corrupt(kPngName, "unexpected decoded size");
  }
  const size_t row_bytes = decoded_size / height;
  // uint16_t storage keeps 16-bit rows aligned; row_bytes is even whenever samples are 16-bit.
  std::vector<uint16_t> decoded((decoded_size + 1) / 2);
  if (int rc = spng_decode_image(ctx.get(), decoded.data(), decoded_size, SPNG_FMT_PNG, 0);
      rc != 0) {
    return SpngError(rc);
  }

  RgbImage image;
  image.width = static_cast<int>(ihdr.width);
  image.height = static_cast<int>(ihdr.height);
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
  const auto* rows = reinterpret_cast<const uint8_t*>(decoded.data());
  for (size_t y = 0; y < height; ++y) {
    ConvertRow(ihdr, palette, rows + y * row_bytes, image.pixels.data() + y * ihdr.width * 3);
  }
  return image;
}

}  // namespace tessera::engine::image_internal
