#include "engine/kernels/patches.h"

#include <cstring>

namespace tessera::engine::kernels {

void UnfoldPatches(const PatchGeometry& g, const float* image, float* out) {
  const int rows = g.patches_per_column(), cols = g.patches_per_row();
  const int64_t plane = int64_t{g.image_height} * g.image_width;
  const int64_t patch_size = g.patch_size();
  for (int py = 0; py < rows; ++py) {
    for (int px = 0; px < cols; ++px) {
      float* dst = out + (int64_t{py} * cols + px) * patch_size;
      for (int c = 0; c < g.channels; ++c) {
        const float* src = image + c * plane + int64_t{py} * g.patch_height * g.image_width +
                           int64_t{px} * g.patch_width;
        for (int ky = 0; ky < g.patch_height; ++ky) {
          std::memcpy(dst, src + int64_t{ky} * g.image_width, sizeof(float) * g.patch_width);
          dst += g.patch_width;
        }
      }
    }
  }
}

}  // namespace tessera::engine::kernels
