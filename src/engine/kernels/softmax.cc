#include "engine/kernels/softmax.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera::engine::kernels {
namespace {

void SoftmaxRowScalar(float* row, int64_t cols) {
  float max = -std::numeric_limits<float>::infinity();
  bool nan = false;
  for (int64_t i = 0; i < cols; ++i) {
    nan |= std::isnan(row[i]);
    max = std::max(max, row[i]);
  }
  if (nan) max = std::numeric_limits<float>::quiet_NaN();
  float sum = 0.f;
  for (int64_t i = 0; i < cols; ++i) {
    row[i] = std::exp(row[i] - max);
    sum += row[i];
  }
  const float inverse = 1.f / sum;
  for (int64_t i = 0; i < cols; ++i) row[i] *= inverse;
}

// exp(x) for x <= 0 (scores minus their row maximum): Cody-Waite range reduction to
// x = n ln2 + r, |r| <= ln2 / 2, a degree-6 polynomial for e^r (Cephes' expf coefficients), and
// 2^n built in the exponent bits. Below -87.33 (where 2^n would leave the normal range) the
// result is 0; NaN stays NaN (max(lo, x) returns x when x is NaN).
[[gnu::target("avx2,fma"), gnu::always_inline]] inline __m256 ExpNonPositive(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(lo, x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  const __m256i exponent =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
  return _mm256_andnot_ps(underflow, result);
}

[[gnu::target("avx2,fma"), gnu::always_inline]] inline float HorizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

[[gnu::target("avx2,fma"), gnu::always_inline]] inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The tail's lanes: the first `count` of 8 set.
[[gnu::target("avx2,fma"), gnu::always_inline]] inline __m256i TailMask(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The tail's scores, its masked-out lanes as -inf (probability 0).
[[gnu::target("avx2,fma"), gnu::always_inline]] inline __m256 LoadTail(const float* tail,
                                                                       __m256i mask) {
  return _mm256_blendv_ps(_mm256_set1_ps(-std::numeric_limits<float>::infinity()),
                          _mm256_maskload_ps(tail, mask), _mm256_castsi256_ps(mask));
}

// Folds `x` into a running maximum and a running "any NaN" mask.
[[gnu::target("avx2,fma"), gnu::always_inline]] inline void TakeMax(__m256 x, __m256& max,
                                                                    __m256& nan) {
  max = _mm256_max_ps(max, x);
  nan = _mm256_or_ps(nan, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

[[gnu::target("avx2,fma")]] void SoftmaxRowAvx2(float* row, int64_t cols) {
  const int64_t full = cols / 8 * 8, tail = cols - full;
  const __m256 neg_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const __m256i mask = TailMask(tail);
  // Max. A NaN anywhere makes the max NaN (unordered compare).
  __m256 max = neg_inf, nan = _mm256_setzero_ps();
  for (int64_t i = 0; i < full; i += 8) TakeMax(_mm256_loadu_ps(row + i), max, nan);
  if (tail > 0) TakeMax(LoadTail(row + full, mask), max, nan);
  float row_max = HorizontalMax(max);
  if (_mm256_movemask_ps(nan) != 0) row_max = std::numeric_limits<float>::quiet_NaN();
  const __m256 m = _mm256_set1_ps(row_max);
  __m256 sum = _mm256_setzero_ps();
  for (int64_t i = 0; i < full; i += 8) {
    const __m256 e = ExpNonPositive(_mm256_sub_ps(_mm256_loadu_ps(row + i), m));
    _mm256_storeu_ps(row + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (tail > 0) {
    const __m256 e = ExpNonPositive(_mm256_sub_ps(LoadTail(row + full, mask), m));  // -inf - m -> 0
    _mm256_maskstore_ps(row + full, mask, e);
    sum = _mm256_add_ps(sum, e);
  }
  const __m256 inverse = _mm256_set1_ps(1.f / HorizontalSum(sum));
  for (int64_t i = 0; i < full; i += 8) {
    _mm256_storeu_ps(row + i, _mm256_mul_ps(_mm256_loadu_ps(row + i), inverse));
  }
  if (tail > 0) {
    _mm256_maskstore_ps(row + full, mask,
                        _mm256_mul_ps(_mm256_maskload_ps(row + full, mask), inverse));
  }
}

bool HostHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

}  // namespace

void SoftmaxRows(float* data, int64_t rows, int64_t cols, int64_t stride) {
  if (!HostHasAvx2()) return SoftmaxRowsScalar(data, rows, cols, stride);
  for (int64_t r = 0; r < rows; ++r) SoftmaxRowAvx2(data + r * stride, cols);
}

const char* SoftmaxImplementationName() { return HostHasAvx2() ? "avx2" : "scalar"; }

void SoftmaxRowsScalar(float* data, int64_t rows, int64_t cols, int64_t stride) {
  for (int64_t r = 0; r < rows; ++r) SoftmaxRowScalar(data + r * stride, cols);
}

}  // namespace tessera::engine::kernels
