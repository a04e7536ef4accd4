#include "engine/image/resample.h"

#include "engine/image/resample_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fmt/format.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tessera::engine {
namespace {

// Pillow's filters (libImaging/Resample.c), each with its support radius at scale 1. The
// arithmetic, including the float constants of the Hamming window, is Pillow's: the
// coefficients must come out identical in double before they are quantised.
double BoxFilter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double BilinearFilter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double HammingFilter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));
}

double BicubicFilter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double LanczosFilter(double x) {
  if (-3.0 <= x && x < 3.0) return Sinc(x) * Sinc(x / 3);
  return 0.0;
}

struct Filter {
  double (*fn)(double);
  double support;
};

Filter FilterFor(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::kBox:
      return {BoxFilter, 0.5};
    case ResampleFilter::kBilinear:
      return {BilinearFilter, 1.0};
    case ResampleFilter::kHamming:
      return {HammingFilter, 1.0};
    case ResampleFilter::kBicubic:
      return {BicubicFilter, 2.0};
    case ResampleFilter::kLanczos:
      return {LanczosFilter, 3.0};
    case ResampleFilter::kNearest:
      break;
  }
  return {BilinearFilter, 1.0};  // unreachable: nearest never convolves
}

// Fixed point: 8 bits of result, 2 bits of headroom for filters with negative lobes.
constexpr int kPrecisionBits = 32 - 8 - 2;

// The taps of output positions [first, first + count) along one axis: output i reads inputs
// [start[i], start[i] + taps[i]) with weights weights[i * max_taps ...].
struct AxisCoefficients {
  int max_taps = 0;
  std::vector<int> start;
  std::vector<int> taps;
  std::vector<int32_t> weights;
};

AxisCoefficients ComputeCoefficients(int in_size, int out_size, const Filter& filter, int first,
                                     int count) {
  // As Pillow's precompute_coeffs with box (0, in_size): (in1 - in0) is computed in float.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter.support * filterscale;
  AxisCoefficients c;
  c.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.start.resize(count);
  c.taps.resize(count);
  c.weights.assign(static_cast<size_t>(count) * c.max_taps, 0);
  std::vector<double> k(c.max_taps);
  for (int i = 0; i < count; ++i) {
    const int xx = first + i;
    const double center = 0.0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    xmax = std::clamp(xmax, 0, c.max_taps);
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    int32_t* out = &c.weights[static_cast<size_t>(i) * c.max_taps];
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? k[x] / ww : k[x];
      out[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                     : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.start[i] = xmin;
    c.taps[i] = xmax;
  }
  return c;
}

inline uint8_t Clip8(int32_t sum) {
  const int32_t v = sum >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// The two passes are integer sums, exact in any order, so they may be vectorised freely: the
// AVX2 versions (chosen at run time) give the same bytes as the portable ones.

// Rows processed together by the horizontal pass: its sums run across rows, so that the
// coefficient of a tap is the same for every lane.
constexpr int kRowBlock = 8;

// dst[j * dst_stride + r] = src[r * src_stride + j] for an 8 x 8 block of bytes.
inline void Transpose8x8(const uint8_t* src, size_t src_stride, uint8_t* dst, size_t dst_stride) {
#if defined(__x86_64__)
  __m128i r[8];
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + i * src_stride));
  }
  // Interleave bytes, then 16-bit pairs, then 32-bit quads: column j ends in the low or high
  // half of one register.
  const __m128i a0 = _mm_unpacklo_epi8(r[0], r[1]), a1 = _mm_unpacklo_epi8(r[2], r[3]);
  const __m128i a2 = _mm_unpacklo_epi8(r[4], r[5]), a3 = _mm_unpacklo_epi8(r[6], r[7]);
  const __m128i b0 = _mm_unpacklo_epi16(a0, a1), b1 = _mm_unpackhi_epi16(a0, a1);
  const __m128i b2 = _mm_unpacklo_epi16(a2, a3), b3 = _mm_unpackhi_epi16(a2, a3);
  const __m128i c[4] = {_mm_unpacklo_epi32(b0, b2), _mm_unpackhi_epi32(b0, b2),
                        _mm_unpacklo_epi32(b1, b3), _mm_unpackhi_epi32(b1, b3)};
  for (int i = 0; i < 4; ++i) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (2 * i) * dst_stride), c[i]);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (2 * i + 1) * dst_stride),
                     _mm_unpackhi_epi64(c[i], c[i]));
  }
#else
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) dst[j * dst_stride + i] = src[i * src_stride + j];
  }
#endif
}

// The arithmetic of one block of the horizontal pass: `columns` holds kRowBlock bytes (one per
// row) for each input sample; writes kRowBlock bytes per output sample to `results`.
using HorizontalBlockFn = void (*)(const uint8_t* columns, const AxisCoefficients& h,
                                   uint8_t* results);

void HorizontalBlockScalar(const uint8_t* columns, const AxisCoefficients& h, uint8_t* results) {
  for (size_t x = 0; x < h.start.size(); ++x) {
    const int32_t* k = &h.weights[x * h.max_taps];
    for (int c = 0; c < 3; ++c) {
      int32_t acc[kRowBlock];
      for (int r = 0; r < kRowBlock; ++r) acc[r] = 1 << (kPrecisionBits - 1);
      const uint8_t* col = columns + (static_cast<size_t>(h.start[x]) * 3 + c) * kRowBlock;
      for (int t = 0; t < h.taps[x]; ++t, col += 3 * kRowBlock) {
        for (int r = 0; r < kRowBlock; ++r) acc[r] += col[r] * k[t];
      }
      uint8_t* dst = results + (x * 3 + c) * kRowBlock;
      for (int r = 0; r < kRowBlock; ++r) dst[r] = Clip8(acc[r]);
    }
  }
}

#if defined(__x86_64__)
[[gnu::target("avx2")]] void HorizontalBlockAvx2(const uint8_t* columns,
                                                 const AxisCoefficients& h, uint8_t* results) {
  static_assert(kRowBlock == 8);
  const __m256i round = _mm256_set1_epi32(1 << (kPrecisionBits - 1));
  const __m256i zero = _mm256_setzero_si256();
  const __m256i max = _mm256_set1_epi32(255);
  for (size_t x = 0; x < h.start.size(); ++x) {
    const int32_t* k = &h.weights[x * h.max_taps];
    for (int c = 0; c < 3; ++c) {
      __m256i acc = round;
      const uint8_t* col = columns + (static_cast<size_t>(h.start[x]) * 3 + c) * kRowBlock;
      for (int t = 0; t < h.taps[x]; ++t, col += 3 * kRowBlock) {
        const __m256i v =
            _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(col)));
        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(v, _mm256_set1_epi32(k[t])));
      }
      acc = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(acc, kPrecisionBits), zero), max);
      const __m128i words =
          _mm_packus_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(results + (x * 3 + c) * kRowBlock),
                       _mm_packus_epi16(words, words));
    }
  }
}
#endif

// Rows [row0, row0 + rows) of `in` (width in_width), resampled horizontally to the columns `h`
// describes: writes rows x h.start.size() RGB pixels to `out`. Each block of kRowBlock rows is
// transposed (kRowBlock bytes per input sample), so that every tap is one multiply-add over
// kRowBlock lanes; the results are transposed back into `out`.
void HorizontalPass(const uint8_t* in, int in_width, int row0, int rows,
                    const AxisCoefficients& h, bool avx2, uint8_t* out) {
  HorizontalBlockFn block_fn = HorizontalBlockScalar;
#if defined(__x86_64__)
  if (avx2) block_fn = HorizontalBlockAvx2;
#endif
  const size_t in_stride = static_cast<size_t>(in_width) * 3;
  const size_t out_stride = h.start.size() * 3;
  std::vector<uint8_t> columns(in_stride * kRowBlock);
  std::vector<uint8_t> results(out_stride * kRowBlock);
  for (int block = 0; block < rows; block += kRowBlock) {
    const int n = std::min(kRowBlock, rows - block);
    const uint8_t* src = in + static_cast<size_t>(row0 + block) * in_stride;
    size_t j = 0;
    if (n == kRowBlock) {
      for (; j + 8 <= in_stride; j += 8) {
        Transpose8x8(src + j, in_stride, &columns[j * kRowBlock], kRowBlock);
      }
    }
    for (; j < in_stride; ++j) {  // the tail, or a partial block (last row repeated)
      for (int r = 0; r < kRowBlock; ++r) {
        columns[j * kRowBlock + r] = src[std::min(r, n - 1) * in_stride + j];
      }
    }
    block_fn(columns.data(), h, results.data());
    uint8_t* dst = out + static_cast<size_t>(block) * out_stride;
    j = 0;
    if (n == kRowBlock) {
      for (; j + 8 <= out_stride; j += 8) {
        Transpose8x8(&results[j * kRowBlock], kRowBlock, dst + j, out_stride);
      }
    }
    for (; j < out_stride; ++j) {
      for (int r = 0; r < n; ++r) dst[r * out_stride + j] = results[j * kRowBlock + r];
    }
  }
}

// Resamples vertically: output row i sums rows v.start[i] - row0 ... of `in` (width samples of
// `samples` bytes per row, already horizontally resampled). `acc` holds `samples` int32. A plain
// loop over samples, which the compiler vectorises (compiled for AVX2 and for the baseline).
[[gnu::always_inline]] inline void VerticalPassImpl(const uint8_t* __restrict in, int samples,
                                                    int row0, const AxisCoefficients& v,
                                                    int32_t* __restrict acc,
                                                    uint8_t* __restrict out) {
  for (size_t i = 0; i < v.start.size(); ++i) {
    for (int s = 0; s < samples; ++s) acc[s] = 1 << (kPrecisionBits - 1);
    const int32_t* k = &v.weights[i * v.max_taps];
    for (int t = 0; t < v.taps[i]; ++t) {
      const uint8_t* __restrict src = in + static_cast<size_t>(v.start[i] - row0 + t) * samples;
      const int32_t w = k[t];
      for (int s = 0; s < samples; ++s) acc[s] += src[s] * w;
    }
    uint8_t* __restrict dst = out + i * samples;
    for (int s = 0; s < samples; ++s) dst[s] = Clip8(acc[s]);
  }
}

#if defined(__x86_64__)
[[gnu::target("avx2")]] void VerticalPassAvx2(const uint8_t* in, int samples, int row0,
                                              const AxisCoefficients& v, int32_t* acc,
                                              uint8_t* out) {
  VerticalPassImpl(in, samples, row0, v, acc, out);
}
#endif
void VerticalPassBaseline(const uint8_t* in, int samples, int row0, const AxisCoefficients& v,
                          int32_t* acc, uint8_t* out) {
  VerticalPassImpl(in, samples, row0, v, acc, out);
}

void VerticalPass(const uint8_t* in, int samples, int row0, const AxisCoefficients& v,
                  bool avx2, uint8_t* out) {
  std::vector<int32_t> acc(samples);
#if defined(__x86_64__)
  if (avx2) return VerticalPassAvx2(in, samples, row0, v, acc.data(), out);
#endif
  VerticalPassBaseline(in, samples, row0, v, acc.data(), out);
}

// Pillow's nearest neighbour (ImagingScaleAffine): source coordinate of output i is
// int((i + 0.5) * in/out), accumulated by repeated addition exactly as Pillow does.
std::vector<int> NearestTable(int in_size, int out_size) {
  const double a = static_cast<double>(static_cast<float>(in_size)) / out_size;
  std::vector<int> table(out_size, -1);
  double pos = 0.0 + a * 0.5;
  for (int i = 0; i < out_size; ++i) {
    const int src = pos < 0.0 ? -1 : static_cast<int>(pos);
    if (src >= 0 && src < in_size) table[i] = src;
    pos += a;
  }
  return table;
}

RgbImage ResizeNearest(const RgbImage& in, int out_width, int out_height,
                       const PixelWindow& window) {
  const std::vector<int> xs = NearestTable(in.width, out_width);
  const std::vector<int> ys = NearestTable(in.height, out_height);
  RgbImage out;
  out.width = window.width;
  out.height = window.height;
  out.pixels.assign(static_cast<size_t>(out.width) * out.height * 3, 0);  // Pillow fills with 0
  for (int y = 0; y < window.height; ++y) {
    const int sy = ys[window.y + y];
    if (sy < 0) continue;
    const uint8_t* src = in.pixels.data() + static_cast<size_t>(sy) * in.width * 3;
    uint8_t* dst = out.pixels.data() + static_cast<size_t>(y) * out.width * 3;
    for (int x = 0; x < window.width; ++x) {
      const int sx = xs[window.x + x];
      if (sx >= 0) std::memcpy(dst + 3 * x, src + static_cast<size_t>(sx) * 3, 3);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ResampleFilter> ResampleFilterFromPil(int pil_value) {
  if (pil_value < 0 || pil_value > 5) {
    return absl::InvalidArgumentError(fmt::format(
        "unsupported resample filter {}; expected a PIL value: 0 nearest, 1 lanczos, "
        "2 bilinear, 3 bicubic, 4 box, 5 hamming",
        pil_value));
  }
  return static_cast<ResampleFilter>(pil_value);
}

std::string_view ResampleFilterName(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::kNearest:
      return "nearest";
    case ResampleFilter::kLanczos:
      return "lanczos";
    case ResampleFilter::kBilinear:
      return "bilinear";
    case ResampleFilter::kBicubic:
      return "bicubic";
    case ResampleFilter::kBox:
      return "box";
    case ResampleFilter::kHamming:
      return "hamming";
  }
  return "unknown";
}

namespace image_internal {

bool CpuHasAvx2() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

absl::StatusOr<RgbImage> ResizeRgbImpl(const RgbImage& in, int out_width, int out_height,
                                       ResampleFilter filter, const PixelWindow& window,
                                       bool use_avx2) {
  if (in.width <= 0 || in.height <= 0 ||
      in.pixels.size() != static_cast<size_t>(in.width) * in.height * 3) {
    return absl::InvalidArgumentError(fmt::format(
        "cannot resize a {}x{} image holding {} bytes", in.width, in.height, in.pixels.size()));
  }
  if (out_width <= 0 || out_height <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("cannot resize to {}x{}: sizes must be positive", out_width, out_height));
  }
  if (window.x < 0 || window.y < 0 || window.width <= 0 || window.height <= 0 ||
      window.x + window.width > out_width || window.y + window.height > out_height) {
    return absl::InvalidArgumentError(
        fmt::format("window {}x{} at ({}, {}) is not inside the {}x{} resized image",
                    window.width, window.height, window.x, window.y, out_width, out_height));
  }
  if (filter == ResampleFilter::kNearest) {
    return ResizeNearest(in, out_width, out_height, window);
  }
  const Filter f = FilterFor(filter);
  // Pillow resamples an axis only when its size changes (else that pass would be the identity).
  const bool need_horizontal = out_width != in.width;
  const bool need_vertical = out_height != in.height;

  // Rows of the input the vertical pass reads (all of the window's rows when it is skipped).
  AxisCoefficients v;
  int row0 = window.y;
  int rows = window.height;
  if (need_vertical) {
    v = ComputeCoefficients(in.height, out_height, f, window.y, window.height);
    row0 = v.start.front();
    rows = 0;
    for (size_t i = 0; i < v.start.size(); ++i) rows = std::max(rows, v.start[i] + v.taps[i]);
    rows -= row0;
  }

  // Horizontal pass over those rows, or the window's columns of them as they are.
  std::vector<uint8_t> temp(static_cast<size_t>(rows) * window.width * 3);
  if (need_horizontal) {
    const AxisCoefficients h =
        ComputeCoefficients(in.width, out_width, f, window.x, window.width);
    HorizontalPass(in.pixels.data(), in.width, row0, rows, h, use_avx2, temp.data());
  } else {
    for (int y = 0; y < rows; ++y) {
      std::memcpy(&temp[static_cast<size_t>(y) * window.width * 3],
                  &in.pixels[(static_cast<size_t>(row0 + y) * in.width + window.x) * 3],
                  static_cast<size_t>(window.width) * 3);
    }
  }

  RgbImage out;
  out.width = window.width;
  out.height = window.height;
  if (!need_vertical) {
    out.pixels = std::move(temp);
    return out;
  }
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * 3);
  VerticalPass(temp.data(), window.width * 3, row0, v, use_avx2, out.pixels.data());
  return out;
}

}  // namespace image_internal

absl::StatusOr<RgbImage> ResizeRgb(const RgbImage& in, int out_width, int out_height,
                                   ResampleFilter filter, const PixelWindow& window) {
  static const bool avx2 = image_internal::CpuHasAvx2();
  return image_internal::ResizeRgbImpl(in, out_width, out_height, filter, window, avx2);
}

absl::StatusOr<RgbImage> ResizeRgb(const RgbImage& in, int out_width, int out_height,
                                   ResampleFilter filter) {
  return ResizeRgb(in, out_width, out_height, filter,
                   PixelWindow{.x = 0, .y = 0, .width = out_width, .height = out_height});
}

}  // namespace tessera::engine
