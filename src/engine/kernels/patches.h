// Patch extraction for the ViT patch embedding: a convolution with kernel = stride = patch is a
// GEMM over the image's non-overlapping patches, each unfolded into one row in the order of the
// convolution weight [channels][patch_height][patch_width].
//
// Contract: pure function, no allocation, safe from any thread.
#pragma once

#include <cstdint>

namespace tessera::engine::kernels {

struct PatchGeometry {
  int channels = 3;
  int image_height = 0;
  int image_width = 0;
  int patch_height = 0;
  int patch_width = 0;

  int patches_per_column() const { return image_height / patch_height; }
  int patches_per_row() const { return image_width / patch_width; }
  // Rows of the unfolded matrix (a partial patch at the edge is dropped, as the convolution does).
  int num_patches() const { return patches_per_column() * patches_per_row(); }
  // Columns of the unfolded matrix.
  int patch_size() const { return channels * patch_height * patch_width; }
};

// image: one CHW image [channels][image_height][image_width];
// out: [num_patches][patch_size], patches in raster order (row of patches by row of patches).
void UnfoldPatches(const PatchGeometry& geometry, const float* image, float* out);

}  // namespace tessera::engine::kernels
