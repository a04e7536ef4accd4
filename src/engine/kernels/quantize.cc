#include "engine/kernels/quantize.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/status_macros.h"
#include "engine/kernels/avx512.h"
#include "engine/kernels/precision.h"
#include "fmt/format.h"

namespace tessera::engine::kernels {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using Dt = dnnl::memory::data_type;

namespace {

// The minimum and maximum of n values; NaN when one of them is NaN.
[[TESSERA_AVX512]] void MinMaxAvx512(const float* x, int64_t n, float* lo, float* hi) {
  __m512 low = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 high = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __mmask16 nan = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = avx512::Lanes(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    nan |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q);
    low = _mm512_mask_min_ps(low, m, low, v);
    high = _mm512_mask_max_ps(high, m, high, v);
  }
  *lo = nan ? std::numeric_limits<float>::quiet_NaN() : avx512::HorizontalMin(low);
  *hi = nan ? std::numeric_limits<float>::quiet_NaN() : avx512::HorizontalMax(high);
}

// q = clamp(round(x / scale) + zero_point, 0, 255), rounding half to even (as oneDNN's reorder;
// NaN becomes 0).
[[TESSERA_AVX512]] void QuantizeAvx512(const float* x, int64_t n, float inverse_scale,
                                       int32_t zero_point, uint8_t* q) {
  const __m512 inverse = _mm512_set1_ps(inverse_scale);
  const __m512i zero = _mm512_set1_epi32(zero_point);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = avx512::Lanes(n - i);
    const __m512i v = _mm512_add_epi32(
        _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inverse)), zero);
    _mm_mask_storeu_epi8(q + i, m,
                         _mm512_cvtusepi32_epi8(_mm512_max_epi32(v, _mm512_setzero_si512())));
  }
}

absl::Status NonFiniteActivations() {
  return absl::InvalidArgumentError(
      "int8: the activations hold NaN or infinity (are the pixel values finite?)");
}

// Over the calling thread's OpenMP threads, one contiguous share each, in one parallel region:
// each thread's minimum and maximum are merged, then every thread quantizes its share.
absl::StatusOr<U8Quantization> QuantizeOnAvx512(const float* x, int64_t n, uint8_t* q) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  bool nan = false;
  U8Quantization quantization;
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    float l = std::numeric_limits<float>::infinity(), h = -l;
    if (end > begin) MinMaxAvx512(x + begin, end - begin, &l, &h);
#pragma omp critical(tessera_quantize_range)
    {
      nan = nan || std::isnan(l);
      lo = std::min(lo, l);
      hi = std::max(hi, h);
    }
#pragma omp barrier
#pragma omp single
    quantization = ChooseU8Quantization(lo, hi);
    // (the single's implicit barrier: every thread sees the quantization and the flag)
    if (end > begin && !nan && std::isfinite(lo) && std::isfinite(hi)) {
      QuantizeAvx512(x + begin, end - begin, 1.f / quantization.scale, quantization.zero_point,
                     q + begin);
    }
  }
  if (nan || !std::isfinite(lo) || !std::isfinite(hi)) return NonFiniteActivations();
  return quantization;
}

}  // namespace

int Int8WeightLimit() { return HostHasInt8DotProduct() ? 127 : 63; }

absl::StatusOr<QuantizedWeights> QuantizeWeightsPerRow(std::span<const float> weights, int rows,
                                                       int cols, int limit) {
  if (rows <= 0 || cols <= 0 || weights.size() != size_t(rows) * size_t(cols) || limit < 1 ||
      limit > 127) {
    return absl::InvalidArgumentError(fmt::format("quantize {}x{} weights to +-{}: got {} values",
                                                  rows, cols, limit, weights.size()));
  }
  QuantizedWeights out;
  out.values.resize(weights.size());
  out.scales.resize(size_t(rows));
  for (int r = 0; r < rows; ++r) {
    std::span<const float> row = weights.subspan(size_t(r) * cols, size_t(cols));
    float largest = 0.f;
    for (size_t i = 0; i < row.size(); ++i) {
      if (!std::isfinite(row[i])) {
        return absl::InvalidArgumentError(
            fmt::format("weight [{}][{}] is {}: int8 cannot represent it", r, i, row[i]));
      }
      largest = std::max(largest, std::fabs(row[i]));
    }
    // Floored: |w| / scale stays within limit, and an all-zero row gets zeros.
    const float scale = std::max(largest / float(limit), kMinQuantizationScale);
    out.scales[r] = scale;
    int8_t* q = &out.values[size_t(r) * cols];
    for (size_t i = 0; i < row.size(); ++i) {
      // |row[i] / scale| <= limit up to rounding: the clamp only absorbs that rounding.
      q[i] = static_cast<int8_t>(
          std::clamp(std::nearbyint(row[i] / scale), -float(limit), float(limit)));
    }
  }
  return out;
}

U8Quantization ChooseU8Quantization(float min, float max) {
  // 0.0 must be exact (zero padding, ReLU's zeros), so the range always holds it.
  const float lo = std::min(min, 0.f), hi = std::max(max, 0.f);
  const float range = hi - lo;
  if (!std::isfinite(range)) return {};  // NaN or infinite bounds (a finite range: both finite)
  const float scale = std::max(range / 255.f, kMinQuantizationScale);
  const float zero = std::nearbyint(-lo / scale);
  return {.scale = scale, .zero_point = static_cast<int32_t>(std::clamp(zero, 0.f, 255.f))};
}

ActivationQuantizer::Plan* ActivationQuantizer::FindPlan(int rows) {
  for (Plan& plan : plans_) {
    if (plan.rows == rows) return &plan;
  }
  return nullptr;
}

absl::Status ActivationQuantizer::Prepare(int rows) {
  if (rows <= 0 || features_ <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("quantize {} rows of {} features", rows, features_));
  }
  // On AVX-512 Run quantizes by itself (QuantizeOnAvx512): no oneDNN plan to make.
  if (HostHasAvx512() || FindPlan(rows) != nullptr) return absl::OkStatus();
  try {
    const dnnl::engine& engine = runtime_->engine();
    const memory::desc x({rows, features_}, Dt::f32, Tag::ab);
    const memory::desc one({1, 1}, Dt::f32, Tag::ab);
    const memory::desc q({rows, features_}, Dt::u8, Tag::ab);
    const dnnl::primitive_attr attr = UserScratchpadAttr();
    Plan plan;
    size_t scratch = 0;
    // oneDNN refuses a reduction that reduces nothing: a single value is its own min and max.
    if (size_t(rows) * size_t(features_) > 1) {
      const dnnl::reduction::primitive_desc min_pd(
          dnnl::reduction::desc(dnnl::algorithm::reduction_min, x, one, 0.f, 0.f), attr, engine);
      const dnnl::reduction::primitive_desc max_pd(
          dnnl::reduction::desc(dnnl::algorithm::reduction_max, x, one, 0.f, 0.f), attr, engine);
      plan.min = dnnl::reduction(min_pd);
      plan.max = dnnl::reduction(max_pd);
      scratch = std::max(min_pd.scratchpad_desc().get_size(), max_pd.scratchpad_desc().get_size());
    }
    // q = x * (1 / scale) + zero_point, rounded and saturated to [0, 255].
    dnnl::primitive_attr quantize_attr = UserScratchpadAttr();
    quantize_attr.set_output_scales(0, {DNNL_RUNTIME_F32_VAL});
    quantize_attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
    const dnnl::reorder::primitive_desc quantize_pd(engine, x, engine, q, quantize_attr);
    plan.rows = rows;
    plan.quantize = dnnl::reorder(quantize_pd);
    plan.x = memory(x, engine, DNNL_MEMORY_NONE);
    plan.q = memory(q, engine, DNNL_MEMORY_NONE);
    plan.lowest = memory(one, engine);
    plan.highest = memory(one, engine);
    plan.scale = memory({{1}, Dt::f32, Tag::a}, engine);
    plan.zero_point = memory({{1}, Dt::s32, Tag::a}, engine);
    // The three run one after another, so one binding of the shared scratchpad serves them all.
    scratch = std::max(scratch, quantize_pd.scratchpad_desc().get_size());
    plan.scratchpad =
        memory({{int64_t(std::max<size_t>(scratch, 1))}, Dt::u8, Tag::a}, engine, DNNL_MEMORY_NONE);
    RETURN_IF_ERROR(runtime_->ReserveScratchpad(scratch));
    plans_.push_back(std::move(plan));
  } catch (const dnnl::error& e) {
    return DnnlError(e,
                     fmt::format("create a quantizer for {} rows of {} features", rows, features_));
  }
  return absl::OkStatus();
}

absl::StatusOr<U8Quantization> ActivationQuantizer::Run(int rows, const float* x, uint8_t* q) {
  if (rows > 0 && HostHasAvx512()) return QuantizeOnAvx512(x, int64_t{rows} * features_, q);
  Plan* plan = FindPlan(rows);
  if (plan == nullptr) {
    RETURN_IF_ERROR(Prepare(rows));
    plan = FindPlan(rows);
  }
  try {
    plan->x.set_data_handle(const_cast<float*>(x));
    plan->q.set_data_handle(q);
    plan->scratchpad.set_data_handle(runtime_->scratchpad());
  } catch (const dnnl::error& e) {
    return DnnlError(e, "bind quantizer buffers");
  }
  dnnl::stream& stream = runtime_->stream();
  if (!plan->min) {
    *static_cast<float*>(plan->lowest.get_data_handle()) = x[0];
    *static_cast<float*>(plan->highest.get_data_handle()) = x[0];
  } else {
    RETURN_IF_ERROR(Execute(plan->min, stream,
                            {{DNNL_ARG_SRC, plan->x.get()},
                             {DNNL_ARG_DST, plan->lowest.get()},
                             {DNNL_ARG_SCRATCHPAD, plan->scratchpad.get()}},
                            "activation minimum"));
    RETURN_IF_ERROR(Execute(plan->max, stream,
                            {{DNNL_ARG_SRC, plan->x.get()},
                             {DNNL_ARG_DST, plan->highest.get()},
                             {DNNL_ARG_SCRATCHPAD, plan->scratchpad.get()}},
                            "activation maximum"));
  }
  const float lowest = *static_cast<const float*>(plan->lowest.get_data_handle());
  const float highest = *static_cast<const float*>(plan->highest.get_data_handle());
  if (!std::isfinite(lowest) || !std::isfinite(highest)) return NonFiniteActivations();
  const U8Quantization quantization = ChooseU8Quantization(lowest, highest);
  *static_cast<float*>(plan->scale.get_data_handle()) = 1.f / quantization.scale;
  *static_cast<int32_t*>(plan->zero_point.get_data_handle()) = quantization.zero_point;
  RETURN_IF_ERROR(Execute(plan->quantize, stream,
                          {{DNNL_ARG_FROM, plan->x.get()},
                           {DNNL_ARG_TO, plan->q.get()},
                           {DNNL_ARG_ATTR_OUTPUT_SCALES, plan->scale.get()},
                           {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, plan->zero_point.get()},
                           {DNNL_ARG_SCRATCHPAD, plan->scratchpad.get()}},
                          "activation quantization"));
  return quantization;
}

}  // namespace tessera::engine::kernels
