#include "engine/kernels/attention_amx.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/kernels/avx512.h"
#include "engine/kernels/precision.h"
#include "fmt/format.h"

// Every function that touches AVX-512 or AMX carries these target attributes (kernels/avx512.h).
#define TESSERA_AMX_TARGET \
  gnu::target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16")

namespace tessera::engine::kernels {
namespace {

constexpr int kTileRows = 16;   // rows of a tile, and keys per key block of the scores
constexpr int kTileBf16 = 32;   // bf16 values in a tile row (64 bytes)
constexpr int kBlockRows = 32;  // queries per block: two A tiles
constexpr size_t kAlign = 64;

// Linux: the tile data state is off until the process asks for it (arch_prctl).
constexpr int kArchRequestXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// Where each part of the scratch lies, for a shape.
struct ScratchLayout {
  int key_blocks = 0;   // keys in blocks of 16 (score tiles' columns)
  int padded_keys = 0;  // keys padded to 32 (the P V product's k)
  int padded_dim = 0;   // head_dim padded to 32 (the Q K^T product's k), zeros past head_dim
  size_t k_packed = 0, v_packed = 0, q_copy = 0, scores = 0, probabilities = 0, context = 0,
         inverse_sums = 0, bytes = 0;
};

size_t CacheLines(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

ScratchLayout Layout(const AmxHeadShape& shape) {
  ScratchLayout l;
  l.key_blocks = (shape.num_keys + kTileRows - 1) / kTileRows;
  l.padded_keys = (shape.num_keys + kTileBf16 - 1) / kTileBf16 * kTileBf16;
  l.padded_dim = (shape.head_dim + kTileBf16 - 1) / kTileBf16 * kTileBf16;
  const size_t d = l.padded_dim;
  size_t offset = 0;
  auto take = [&offset](size_t bytes) {
    const size_t at = offset;
    offset += CacheLines(bytes);
    return at;
  };
  l.k_packed = take(size_t(l.key_blocks) * kTileRows * d * sizeof(BFloat16));
  l.v_packed = take(size_t(l.padded_keys) * d * sizeof(BFloat16));
  l.q_copy = take(kBlockRows * d * sizeof(BFloat16));
  l.scores = take(size_t(kBlockRows) * l.key_blocks * kTileRows * sizeof(float));
  l.probabilities = take(size_t(kBlockRows) * l.padded_keys * sizeof(BFloat16));
  l.context = take(kBlockRows * d * sizeof(float));
  l.inverse_sums = take(kBlockRows * sizeof(float));
  l.bytes = offset;
  return l;
}

// 2^t for t <= ~0: t = n + r, |r| <= 1/2, 2^r by its degree-4 Taylor polynomial (relative error
// < 6e-5), scaled by 2^n with VSCALEFPS (which underflows to 0 below 2^-149). t is clamped at
// -150 so that -inf scores give exactly 0; NaN stays NaN (VMAXPS returns its second operand).
[[TESSERA_AMX_TARGET, gnu::always_inline]] inline __m512 Exp2(__m512 t) {
  t = _mm512_max_ps(_mm512_set1_ps(-150.f), t);
  const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(t, n);
  __m512 p = _mm512_set1_ps(9.6181291e-3f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.5504109e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4022651e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.9314718e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}

// K [keys][d] -> [key block][pair of padded d][16 keys] as 32-bit words (bf16 pairs): the B
// operand of Q K^T, whose k runs over d. Keys past the end and pairs past d are zero.
[[TESSERA_AMX_TARGET]] void PackKeys(const BFloat16* k, int64_t stride, int keys, int d,
                                     int padded_dim, int key_blocks, uint32_t* packed) {
  const int pairs = d / 2, padded_pairs = padded_dim / 2;
  const __m512i rows =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(stride / 2)));
  for (int b = 0; b < key_blocks; ++b) {
    const __mmask16 mask = avx512::Lanes(keys - b * kTileRows);
    const auto* base = reinterpret_cast<const int*>(k + int64_t{b} * kTileRows * stride);
    for (int p = 0; p < padded_pairs; ++p) {
      const __m512i column =
          p < pairs ? _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, rows, base + p, 4)
                    : _mm512_setzero_si512();
      _mm512_storeu_si512(packed + (int64_t{b} * padded_pairs + p) * kTileRows, column);
    }
  }
}

// V [keys][d] -> [pair of keys][padded d][2]: the B operand of P V, whose k runs over keys. Keys
// past the end (up to the padded count) and columns past d are zero.
[[TESSERA_AMX_TARGET]] void PackValues(const BFloat16* v, int64_t stride, int keys, int d,
                                       int padded_dim, int padded_keys, BFloat16* packed) {
  // Interleave two rows' 16-bit values: out[2j] = a[j], out[2j + 1] = b[j] (b's indices have
  // bit 5 set).
  const __m512i low = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8,
                                       39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i high = _mm512_add_epi16(low, _mm512_set1_epi16(16));
  for (int pair = 0; pair < padded_keys / 2; ++pair) {
    const int k0 = 2 * pair, k1 = k0 + 1;
    BFloat16* out = packed + int64_t{pair} * 2 * padded_dim;
    for (int c = 0; c < padded_dim; c += kTileBf16) {
      const __mmask32 columns =
          d - c >= kTileBf16 ? ~__mmask32{0} : static_cast<__mmask32>((1u << (d - c)) - 1);
      const __m512i a = k0 < keys ? _mm512_maskz_loadu_epi16(columns, v + k0 * stride + c)
                                  : _mm512_setzero_si512();
      const __m512i b = k1 < keys ? _mm512_maskz_loadu_epi16(columns, v + k1 * stride + c)
                                  : _mm512_setzero_si512();
      _mm512_storeu_si512(out + 2 * c, _mm512_permutex2var_epi16(a, low, b));
      _mm512_storeu_si512(out + 2 * c + kTileBf16, _mm512_permutex2var_epi16(a, high, b));
    }
  }
}

// One row of scores -> unnormalized bf16 probabilities exp(scale (s - max)), zero past `keys` up
// to `padded_keys`; returns 1 / their sum.
[[TESSERA_AMX_TARGET]] float ExpRow(const float* scores, int keys, int padded_keys, float scale,
                                    BFloat16* probabilities) {
  __m512 max = _mm512_set1_ps(-INFINITY);
  int c = 0;
  for (; c + 16 <= keys; c += 16) max = _mm512_max_ps(_mm512_loadu_ps(scores + c), max);
  if (c < keys) {
    const __mmask16 tail = avx512::Lanes(keys - c);
    max = _mm512_mask_max_ps(max, tail, _mm512_maskz_loadu_ps(tail, scores + c), max);
  }
  // exp(scale (s - max)) = 2^(s c - max c), c = scale log2(e): one FMA per score.
  const float c2 = scale * 1.44269504088896341f;
  const __m512 factor = _mm512_set1_ps(c2);
  const __m512 offset = _mm512_set1_ps(-avx512::HorizontalMax(max) * c2);
  __m512 sum = _mm512_setzero_ps();
  for (c = 0; c < padded_keys; c += 16) {
    const __mmask16 valid = avx512::Lanes(keys - c);
    const __m512 s = _mm512_maskz_loadu_ps(valid, scores + c);
    const __m512 e = _mm512_maskz_mov_ps(valid, Exp2(_mm512_fmadd_ps(s, factor, offset)));
    sum = _mm512_add_ps(sum, e);
    avx512::Store(probabilities + c, 0xffff, e);
  }
  return 1.f / avx512::HorizontalSum(sum);
}

// A context row divided by its probabilities' sum, stored in the output's type (float or
// BFloat16).
template <typename Out>
[[TESSERA_AMX_TARGET, gnu::always_inline]] inline void StoreRow(const float* row, int d,
                                                                float inverse, Out* out) {
  const __m512 f = _mm512_set1_ps(inverse);
  for (int c = 0; c < d; c += 16) {
    avx512::Store(out + c, avx512::Lanes(d - c), _mm512_mul_ps(_mm512_loadu_ps(row + c), f));
  }
}

template <typename Out>
[[TESSERA_AMX_TARGET]] void Head(const AmxHeadShape& shape, const AmxHeadOperands& o, Out* out,
                                 void* scratch) {
  const ScratchLayout l = Layout(shape);
  auto* bytes = static_cast<uint8_t*>(scratch);
  auto* k_packed = reinterpret_cast<uint32_t*>(bytes + l.k_packed);
  auto* v_packed = reinterpret_cast<BFloat16*>(bytes + l.v_packed);
  auto* q_copy = reinterpret_cast<BFloat16*>(bytes + l.q_copy);
  auto* scores = reinterpret_cast<float*>(bytes + l.scores);
  auto* probabilities = reinterpret_cast<BFloat16*>(bytes + l.probabilities);
  auto* context = reinterpret_cast<float*>(bytes + l.context);
  auto* inverse_sums = reinterpret_cast<float*>(bytes + l.inverse_sums);
  // d: the head's columns; dp: padded to whole tiles (the products' extra columns are zeros).
  const int d = shape.head_dim, dp = l.padded_dim, keys = shape.num_keys, pairs = dp / 2;
  const int score_stride = l.key_blocks * kTileRows, padded = l.padded_keys;
  if (!o.keys_values_packed) {
    PackKeys(o.k, o.k_stride, keys, d, dp, l.key_blocks, k_packed);
    PackValues(o.v, o.v_stride, keys, d, dp, padded, v_packed);
  }

  for (int q0 = o.query_begin; q0 < o.query_end; q0 += kBlockRows) {
    const int rows = std::min(kBlockRows, o.query_end - q0);
    const int halves = rows > kTileRows ? 2 : 1;
    // The A operand of each half: straight from Q when it has 16 rows of whole tiles, else a
    // zero-padded copy.
    const BFloat16* a[2];
    int64_t a_stride[2];
    for (int i = 0; i < halves; ++i) {
      const int first = q0 + i * kTileRows, valid = std::min(kTileRows, rows - i * kTileRows);
      if (valid == kTileRows && d == dp) {
        a[i] = o.q + first * o.q_stride;
        a_stride[i] = o.q_stride * int64_t{sizeof(BFloat16)};
      } else {
        BFloat16* copy = q_copy + i * kTileRows * dp;
        std::fill(copy, copy + kTileRows * dp, BFloat16{});
        for (int r = 0; r < valid; ++r) {
          std::memcpy(static_cast<void*>(copy + r * dp), o.q + (first + r) * o.q_stride,
                      d * sizeof(BFloat16));
        }
        a[i] = copy;
        a_stride[i] = dp * int64_t{sizeof(BFloat16)};
      }
    }
    // Scores: tiles 0-1 accumulate (one per half), 2-3 hold Q, 4 holds K.
    for (int b = 0; b < l.key_blocks; ++b) {
      _tile_zero(0);
      if (halves == 2) _tile_zero(1);
      for (int s = 0; s < dp / kTileBf16; ++s) {
        _tile_loadd(4, k_packed + (int64_t{b} * pairs + s * kTileRows) * kTileRows, 64);
        _tile_loadd(2, a[0] + s * kTileBf16, a_stride[0]);
        _tile_dpbf16ps(0, 2, 4);
        if (halves == 2) {
          _tile_loadd(3, a[1] + s * kTileBf16, a_stride[1]);
          _tile_dpbf16ps(1, 3, 4);
        }
      }
      _tile_stored(0, scores + b * kTileRows, score_stride * int64_t{sizeof(float)});
      if (halves == 2) {
        _tile_stored(1, scores + kTileRows * score_stride + b * kTileRows,
                     score_stride * int64_t{sizeof(float)});
      }
    }
    for (int r = 0; r < rows; ++r) {
      inverse_sums[r] =
          ExpRow(scores + r * score_stride, keys, padded, shape.scale, probabilities + r * padded);
    }
    // Rows past `rows` (in either half): whatever is there only reaches context rows that are
    // never stored; make them finite anyway.
    for (int r = rows; r < halves * kTileRows; ++r) {
      std::fill(probabilities + r * padded, probabilities + (r + 1) * padded, BFloat16{});
    }
    // Context = P V, 32 columns at a time: tiles 0-3 accumulate (half i, column tile j: 2 i + j),
    // 4-5 hold P, 6-7 hold V.
    const int64_t p_stride = padded * int64_t{sizeof(BFloat16)};
    const int64_t v_row_bytes = 2 * dp * int64_t{sizeof(BFloat16)};  // a pair of keys
    for (int c0 = 0; c0 < dp; c0 += kTileBf16) {
      _tile_zero(0);
      _tile_zero(1);
      if (halves == 2) {
        _tile_zero(2);
        _tile_zero(3);
      }
      for (int kb = 0; kb < padded / kTileBf16; ++kb) {
        const BFloat16* v_block = v_packed + int64_t{kb} * kTileRows * 2 * dp + 2 * c0;
        _tile_loadd(6, v_block, v_row_bytes);
        _tile_loadd(7, v_block + 2 * kTileRows, v_row_bytes);
        _tile_loadd(4, probabilities + kb * kTileBf16, p_stride);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (halves == 2) {
          _tile_loadd(5, probabilities + kTileRows * padded + kb * kTileBf16, p_stride);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
      }
      const int64_t c_stride = dp * int64_t{sizeof(float)};
      _tile_stored(0, context + c0, c_stride);
      _tile_stored(1, context + c0 + kTileRows, c_stride);
      if (halves == 2) {
        _tile_stored(2, context + kTileRows * dp + c0, c_stride);
        _tile_stored(3, context + kTileRows * dp + c0 + kTileRows, c_stride);
      }
    }
    for (int r = 0; r < rows; ++r) {
      StoreRow(context + r * dp, d, inverse_sums[r], out + (q0 + r) * o.out_stride);
    }
  }
}

[[TESSERA_AMX_TARGET]] void LoadTileConfig() {
  TileConfig config;
  for (int i = 0; i < 8; ++i) {
    config.rows[i] = kTileRows;
    config.bytes_per_row[i] = 64;
  }
  // GCC 12 does not see LDTILECFG read the config and drops the stores above without this.
  asm volatile("" : : "r"(&config) : "memory");
  _tile_loadconfig(&config);
}

[[TESSERA_AMX_TARGET]] void ReleaseTiles() { _tile_release(); }

bool RequestTilePermission() {
  if (!HostHasAmx()) return false;
  return syscall(SYS_arch_prctl, kArchRequestXcompPerm, kXfeatureXtiledata) == 0;
}

}  // namespace

bool AmxBf16Available() {
  static const bool available = RequestTilePermission();
  return available;
}

absl::Status CheckAmxHeadShape(const AmxHeadShape& shape) {
  if (shape.num_queries <= 0 || shape.num_keys <= 0 || shape.head_dim <= 0 ||
      shape.head_dim % 2 != 0 || !(shape.scale > 0.f) || !std::isfinite(shape.scale)) {
    return absl::InvalidArgumentError(fmt::format(
        "AMX attention: {} queries, {} keys, head dim {}, scale {} (positive, head dim even, "
        "scale finite)",
        shape.num_queries, shape.num_keys, shape.head_dim, shape.scale));
  }
  return absl::OkStatus();
}

size_t AmxAttentionScratchBytes(const AmxHeadShape& shape) { return Layout(shape).bytes; }

AmxTiles::AmxTiles() { LoadTileConfig(); }
AmxTiles::~AmxTiles() { ReleaseTiles(); }

void AmxAttentionHead(const AmxHeadShape& shape, const AmxHeadOperands& operands, float* out,
                      void* scratch) {
  Head(shape, operands, out, scratch);
}

void AmxAttentionHead(const AmxHeadShape& shape, const AmxHeadOperands& operands, BFloat16* out,
                      void* scratch) {
  Head(shape, operands, out, scratch);
}

}  // namespace tessera::engine::kernels
