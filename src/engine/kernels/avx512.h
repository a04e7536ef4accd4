// What Tessera's own AVX-512 kernels share (AMX attention, GELU, LayerNorm into bf16, the
// activation quantizer): the target attributes their functions carry -- the files are built with
// the project's baseline flags, so that nothing else in them, nor anything they inline from
// headers, uses instructions an AVX2 host lacks; callers check kernels/precision.h first -- and
// the lane masks and horizontal reductions every such loop needs.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "engine/kernels/bfloat16.h"

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as the unused source of their unmasked
// forms, which it then reports as uninitialized: a known false positive (clang does not).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define TESSERA_AVX512 gnu::target("avx512f,avx512bw,avx512vl,avx512dq")
#define TESSERA_AVX512_BF16 gnu::target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")

namespace tessera::engine::kernels::avx512 {

// The lanes of a 16-float vector that hold one of the `left` values still to go (none when
// left <= 0).
[[TESSERA_AVX512, gnu::always_inline]] inline __mmask16 Lanes(int64_t left) {
  if (left <= 0) return 0;
  return left >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}

[[TESSERA_AVX512, gnu::always_inline]] inline float HorizontalSum(__m512 v) {
  const __m256 m = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

[[TESSERA_AVX512, gnu::always_inline]] inline float HorizontalMax(__m512 v) {
  const __m256 m = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
}

[[TESSERA_AVX512, gnu::always_inline]] inline float HorizontalMin(__m512 v) {
  const __m256 m = _mm256_min_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 x = _mm_min_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  x = _mm_min_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_min_ss(x, _mm_movehdup_ps(x)));
}

// Stores the lanes in `lanes` of 16 floats at `out`: as they are, or rounded to bf16 (to nearest
// even).
[[TESSERA_AVX512, gnu::always_inline]] inline void Store(float* out, __mmask16 lanes,
                                                         __m512 values) {
  _mm512_mask_storeu_ps(out, lanes, values);
}

[[TESSERA_AVX512_BF16, gnu::always_inline]] inline void Store(BFloat16* out, __mmask16 lanes,
                                                              __m512 values) {
  _mm256_mask_storeu_epi16(out, lanes, reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(values)));
}

}  // namespace tessera::engine::kernels::avx512
