#include "engine/kernels/gelu.h"

#include <algorithm>

#include "engine/kernels/avx512.h"

namespace tessera::engine::kernels {
namespace {

// x Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2 and, for z = |x| / sqrt 2,
// erf(z) = 1 - r, r = 1 / (1 + a1 z + ... + a6 z^6)^16. x >= 0: x (2 - r) / 2; x < 0: x r / 2
// (erf is odd): no cancellation for negative x, whose result is then within 3e-7 |x| of the
// exact one (not to its relative precision: at x = -10 both are below 1e-19).
[[TESSERA_AVX512, gnu::always_inline]] inline __m512 Gelu(__m512 x) {
  const __m512 z = _mm512_abs_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
  __m512 p = _mm512_set1_ps(0.0000430638f);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0002765672f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0001520143f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0092705272f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0422820123f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0705230784f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.f));
  p = _mm512_mul_ps(p, p);
  p = _mm512_mul_ps(p, p);
  p = _mm512_mul_ps(p, p);
  p = _mm512_mul_ps(p, p);  // (...)^16: overflows to inf for z >~ 10, where r = 0 is exact
  __m512 r = _mm512_rcp14_ps(p);
  r = _mm512_mul_ps(r, _mm512_fnmadd_ps(p, r, _mm512_set1_ps(2.f)));  // one Newton step
  r = _mm512_mask_mov_ps(
      r, _mm512_cmp_ps_mask(p, p, _CMP_EQ_OQ) & _mm512_cmp_ps_mask(r, r, _CMP_UNORD_Q),
      _mm512_setzero_ps());  // inf * 0 in the Newton step: r is 0
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 twice_phi = _mm512_mask_blend_ps(negative, _mm512_sub_ps(_mm512_set1_ps(2.f), r), r);
  return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), twice_phi);
}

// Two functions, not one template: the bf16 one needs AVX-512 BF16, which the float one (int8
// on AVX-512 hosts without it) must not be compiled for.
[[TESSERA_AVX512]] void GeluBlock(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = avx512::Lanes(n - i);
    avx512::Store(y + i, m, Gelu(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

[[TESSERA_AVX512_BF16]] void GeluBlock(const float* x, BFloat16* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = avx512::Lanes(n - i);
    avx512::Store(y + i, m, Gelu(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

// Blocks of 4096 values (16 KB of x): equal shares for the threads, each in its own cache.
template <typename Out>
void GeluBlocks(const float* x, Out* y, int64_t n) {
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * kBlock;
    GeluBlock(x + begin, y + begin, std::min(kBlock, n - begin));
  }
}

}  // namespace

void GeluErf(const float* x, float* y, int64_t n) { GeluBlocks(x, y, n); }

void GeluErfToBf16(const float* x, BFloat16* y, int64_t n) { GeluBlocks(x, y, n); }

}  // namespace tessera::engine::kernels
