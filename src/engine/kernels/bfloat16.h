// bfloat16 as stored in activations: the upper 16 bits of an IEEE fp32 (same exponent range, 8
// significant bits). A distinct type so that a bf16 buffer is never passed where floats are
// expected; the conversions round to nearest even, as oneDNN's and PyTorch's.
#pragma once

#include <cstdint>
#include <cstring>

namespace tessera::engine::kernels {

// The element type of a buffer of activations.
enum class ElementType { kF32, kBF16 };

// "fp32" or "bf16", for errors.
inline const char* ElementTypeName(ElementType type) {
  return type == ElementType::kBF16 ? "bf16" : "fp32";
}

struct BFloat16 {
  uint16_t bits = 0;
};
static_assert(sizeof(BFloat16) == 2);

inline BFloat16 ToBFloat16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<uint16_t>((u >> 16) | 0x40)};  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return {static_cast<uint16_t>(u >> 16)};
}

inline float ToFloat(BFloat16 value) {
  const uint32_t u = uint32_t{value.bits} << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

}  // namespace tessera::engine::kernels
