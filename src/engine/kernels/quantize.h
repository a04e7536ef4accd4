// The int8 precision's arithmetic: how weights and activations become 8-bit integers.
//
// Weights: symmetric, per output channel (row of PyTorch's [out][in] matrix), once at load:
//   w ~= scale[o] * q[o][i], q in [-qmax, qmax], scale[o] = max_i |w[o][i]| / qmax.
// qmax is 127, or 63 on hosts without VNNI/AMX: there oneDNN sums pairs of u8 x s8 products in
// 16 bits, and 255 * 127 * 2 overflows them (saturating silently) where 255 * 63 * 2 does not.
//
// Activations: asymmetric uint8, one scale and zero point for the whole tensor, chosen per call
// from its minimum and maximum (dynamic quantization: no calibration set, and no input the
// calibration never saw can overflow the range):
//   x ~= scale * (q - zero_point), q in [0, 255], the range widened to hold 0 exactly.
// A GEMM over quantized operands then gives y[r][o] = scale_x * scale_w[o] * sum_i (qx - zp) qw,
// which oneDNN computes from the integers with the output scales, the zero point's term folded
// into the bias (kernels/linear_int8.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kernels/dnnl_runtime.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace tessera::engine::kernels {

// The largest weight magnitude this host's int8 kernels take without overflow: 127 or 63.
int Int8WeightLimit();

// The smallest scale either operand gets (2^-40): a row of tiny or subnormal weights, or an
// all-but-zero activation, quantizes against it instead of dividing by ~0, and the product of
// two scales -- the GEMM's output scale -- stays a normal float that a bias can be divided by.
inline constexpr float kMinQuantizationScale = 0x1p-40f;

struct QuantizedWeights {
  std::vector<int8_t> values;  // [rows][cols], like the input
  std::vector<float> scales;   // [rows]
};
// Quantizes row-major `weights` [rows][cols] per row to [-limit, limit], each row's scale at
// least kMinQuantizationScale. INVALID_ARGUMENT when a weight is not finite (no scale represents
// it).
absl::StatusOr<QuantizedWeights> QuantizeWeightsPerRow(std::span<const float> weights, int rows,
                                                       int cols, int limit);

struct U8Quantization {
  float scale = 1.f;       // real value of one step
  int32_t zero_point = 0;  // the integer that stands for 0.0
};
// The uint8 quantization of values in [min, max]: scale at least kMinQuantizationScale; bounds
// that are not finite (NaN or infinite activations: the fp32 result would be garbage too) get
// scale 1 and zero point 0 -- never UB.
U8Quantization ChooseU8Quantization(float min, float max);

// Quantizes a dense row-major [rows][features] fp32 tensor to uint8 per call: on AVX-512 hosts
// one pass for the minimum and maximum and one to quantize, in a single parallel region of
// Tessera's own; elsewhere on oneDNN (a min and a max reduction, then a reorder with runtime scale
// and zero point). On the calling thread's OpenMP threads either way.
// Contract as Linear's: Prepare allocates, Run does not; not re-entrant.
class ActivationQuantizer {
 public:
  ActivationQuantizer(DnnlRuntime* runtime, int features)
      : runtime_(runtime), features_(features) {}

  absl::Status Prepare(int rows);
  // Writes x's quantized values to q (rows * features bytes) and returns their quantization;
  // INVALID_ARGUMENT when x holds NaN or infinity (no range represents it: the layer fails rather
  // than compute garbage).
  absl::StatusOr<U8Quantization> Run(int rows, const float* x, uint8_t* q);

 private:
  struct Plan {
    int rows = 0;
    dnnl::primitive min, max, quantize;
    dnnl::memory x, q, lowest, highest, scale, zero_point, scratchpad;
  };
  Plan* FindPlan(int rows);

  DnnlRuntime* runtime_;  // not owned
  int features_;
  std::vector<Plan> plans_;
};

}  // namespace tessera::engine::kernels
