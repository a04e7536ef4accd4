// JPEG through the libjpeg API of libjpeg-turbo, the same library and settings Pillow uses
// (Debian's Pillow links libjpeg62-turbo): default ISLOW DCT, fancy upsampling, output RGB for
// 1- and 3-component images and CMYK for 4-component ones. The libjpeg API rather than
// TurboJPEG gives control over warnings (a truncated file is only a warning to libjpeg), the
// data precision and the number of progressive scans.
//
// libjpeg reports fatal errors through a callback that must not return: we longjmp back to the
// function that called setjmp. Those functions (ReadHeader, ReadPixels) keep only trivially
// destructible locals, and every C++ object lives in the caller, so the jump skips no destructor.
#include <csetjmp>
#include <cstddef>
#include <cstdio>  // jpeglib.h needs FILE
#include <cstring>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "engine/image/decode_internal.h"
#include "fmt/format.h"
#include "jerror.h"
#include "jpeglib.h"

namespace tessera::engine::image_internal {
namespace {

constexpr std::string_view kJpegName = "JPEG";
// A progressive JPEG may have any number of scans, and each one makes libjpeg walk the whole
// coefficient buffer: a few kilobytes of crafted scans can cost minutes. Real encoders write
// about ten; TurboJPEG's TJFLAG_LIMITSCANS uses the same bound.
constexpr int kMaxScans = 500;

enum class Failure {
  kNone,
  kLibjpegError,   // error_exit: message holds libjpeg's text
  kBadPrecision,   // 12- or 16-bit samples
  kTooBig,         // a side over libjpeg's JPEG_MAX_DIMENSION
  kTooManyScans,
};

struct ErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg hands us a pointer to it
  jmp_buf jump;
  Failure failure = Failure::kNone;
  bool truncated = false;  // libjpeg ran out of data and invented an end-of-image marker
  int data_precision = 8;
  int64_t width = 0, height = 0;  // for kTooBig
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void OnFatalError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (err->failure == Failure::kNone) {
    if (cinfo->err->msg_code == JERR_BAD_PRECISION) {
      err->failure = Failure::kBadPrecision;
      err->data_precision = cinfo->err->msg_parm.i[0];
    } else if (cinfo->err->msg_code == JERR_IMAGE_TOO_BIG) {
      err->failure = Failure::kTooBig;
      const auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
      err->width = dinfo->image_width;
      err->height = dinfo->image_height;
    } else {
      err->failure = Failure::kLibjpegError;
      (*cinfo->err->format_message)(cinfo, err->message);
    }
  }
  std::longjmp(err->jump, 1);
}

// Warnings (msg_level -1) and trace messages: never printed. Like Pillow, we decode through
// recoverable corruption; only running out of data is an error (Pillow: "image file is
// truncated").
void OnMessage(j_common_ptr cinfo, int msg_level) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (msg_level < 0) {
    ++cinfo->err->num_warnings;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
  }
}

void OnProgress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number > kMaxScans) {
    reinterpret_cast<ErrorManager*>(cinfo->err)->failure = Failure::kTooManyScans;
    OnFatalError(cinfo);
  }
}

// Owns the libjpeg state; destroying it releases every libjpeg allocation, whatever phase the
// decode stopped in.
struct JpegReader {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  jpeg_progress_mgr progress;
  bool created = false;

  JpegReader() {
    std::memset(&cinfo, 0, sizeof cinfo);
    std::memset(&progress, 0, sizeof progress);
  }
  ~JpegReader() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
  JpegReader(const JpegReader&) = delete;
  JpegReader& operator=(const JpegReader&) = delete;
};

// Phase 1: create the decompressor and read every marker up to the first scan.
bool ReadHeader(JpegReader* reader, const uint8_t* data, size_t size) {
  j_decompress_ptr cinfo = &reader->cinfo;
  cinfo->err = jpeg_std_error(&reader->err.pub);
  reader->err.pub.error_exit = OnFatalError;
  reader->err.pub.emit_message = OnMessage;
  if (setjmp(reader->err.jump)) return false;
  jpeg_create_decompress(cinfo);
  reader->created = true;
  reader->progress.progress_monitor = OnProgress;
  cinfo->progress = &reader->progress;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, /*require_image=*/TRUE);
  return true;
}

// Phase 2: decode into `out` (height rows of width * 3 bytes). `cmyk_row` holds width * 4
// bytes when the image has 4 components.
bool ReadPixels(JpegReader* reader, uint8_t* out, uint8_t* cmyk_row) {
  j_decompress_ptr cinfo = &reader->cinfo;
  if (setjmp(reader->err.jump)) return false;
  jpeg_start_decompress(cinfo);
  const size_t stride = static_cast<size_t>(cinfo->output_width) * 3;
  while (cinfo->output_scanline < cinfo->output_height) {
    uint8_t* row = out + stride * cinfo->output_scanline;
    JSAMPROW rows[1] = {cmyk_row != nullptr ? cmyk_row : row};
    if (jpeg_read_scanlines(cinfo, rows, 1) != 1) return false;
    if (cmyk_row == nullptr) continue;
    // Pillow reads CMYK JPEGs as "CMYK;I" (Adobe's inverted CMYK), then converts CMYK to RGB
    // with r = (255 - k') - (c' * (255 - k') / 255), where c' = 255 - c and k' = 255 - k
    // are the inverted samples and the division is its rounded MULDIV255.
    for (JDIMENSION x = 0; x < cinfo->output_width; ++x) {
      const uint8_t* in = cmyk_row + 4 * x;
      const int nk = in[3];  // 255 - k' where k' = 255 - in[3]
      for (int c = 0; c < 3; ++c) {
        const int inverted = 255 - in[c];
        const int t = inverted * nk + 128;
        const int v = nk - (((t >> 8) + t) >> 8);
        row[3 * x + c] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
      }
    }
  }
  return true;
}

absl::Status FailureStatus(const ErrorManager& err) {
  if (err.truncated) return Corrupt(kJpegName, "the data is truncated");
  switch (err.failure) {
    case Failure::kBadPrecision:
      return absl::InvalidArgumentError(
          fmt::format("{}-bit JPEG images are not supported; only 8-bit JPEG can be decoded",
                      err.data_precision));
    case Failure::kTooBig:
      return absl::InvalidArgumentError(fmt::format(
          "JPEG image is {}x{} pixels; JPEG decoding supports at most {} pixels per side",
          err.width, err.height, JPEG_MAX_DIMENSION));
    case Failure::kTooManyScans:
      return Corrupt(kJpegName, fmt::format("more than {} progressive scans", kMaxScans));
    case Failure::kLibjpegError:
      return Corrupt(kJpegName, err.message);
    case Failure::kNone:
      break;
  }
  return Corrupt(kJpegName, "the decoder stopped early");
}

}  // namespace

absl::StatusOr<RgbImage> DecodeJpeg(std::span<const uint8_t> encoded, const DecodeLimits& limits) {
  JpegReader reader;
  if (!ReadHeader(&reader, encoded.data(), encoded.size())) return FailureStatus(reader.err);
  if (reader.err.truncated) return FailureStatus(reader.err);
  jpeg_decompress_struct& cinfo = reader.cinfo;
  RETURN_IF_ERROR(CheckDimensions(kJpegName, cinfo.image_width, cinfo.image_height, limits));

  const int components = cinfo.num_components;
  if (components == 1 || components == 3) {
    cinfo.out_color_space = JCS_RGB;  // grayscale is replicated, as Pillow's L -> RGB
  } else if (components == 4) {
    cinfo.out_color_space = JCS_CMYK;  // libjpeg converts YCCK to CMYK
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "JPEG images with {} color components are not supported (expected 1, 3 or 4)",
        components));
  }
  // Pillow's settings (the libjpeg defaults), stated so that they cannot drift.
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  cinfo.scale_num = cinfo.scale_denom = 1;

  RgbImage image;
  image.width = static_cast<int>(cinfo.image_width);
  image.height = static_cast<int>(cinfo.image_height);
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
  std::vector<uint8_t> cmyk_row(components == 4 ? static_cast<size_t>(image.width) * 4 : 0);
  if (!ReadPixels(&reader, image.pixels.data(), components == 4 ? cmyk_row.data() : nullptr) ||
      reader.err.truncated) {
    return FailureStatus(reader.err);
  }
  return image;
}

}  // namespace tessera::engine::image_internal
