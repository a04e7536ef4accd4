// Internal to src/engine/image (and its tests): ResizeRgb with the choice of kernels made by the
// caller, so that tests can check the AVX2 kernels and the portable ones give the same bytes.
#pragma once

#include "absl/status/statusor.h"
#include "engine/image/resample.h"

namespace tessera::engine::image_internal {

// Whether this CPU runs the AVX2 kernels (false off x86-64).
bool CpuHasAvx2();

// ResizeRgb (resample.h); `use_avx2` must only be true when CpuHasAvx2().
absl::StatusOr<RgbImage> ResizeRgbImpl(const RgbImage& in, int out_width, int out_height,
                                       ResampleFilter filter, const PixelWindow& window,
                                       bool use_avx2);

}  // namespace tessera::engine::image_internal
