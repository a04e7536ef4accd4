// Every fused kernel of the forward pass against the naive reference (reference_ops.h) on
// random shapes — odd sizes, one row, sizes that are not multiples of the SIMD width — at
// several OpenMP thread counts. Tolerance: |got - ref| <= 1e-4 (1 + |ref|) per element (fp32
// accumulation over up to ~800 products against a double reference).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "engine/kernels/attention.h"
#include "engine/kernels/dnnl_runtime.h"
#include "engine/kernels/kernel_test_util.h"
#include "engine/kernels/layer_norm.h"
#include "engine/kernels/linear.h"
#include "engine/kernels/patches.h"
#include "engine/kernels/precision.h"
#include "engine/kernels/quantize.h"
#include "engine/kernels/reference_ops.h"
#include "engine/kernels/softmax.h"
#include "gtest/gtest.h"

namespace tessera::engine::kernels {
namespace {

constexpr double kTolerance = 1e-4;

using kernel_test::Random;
using kernel_test::RelativeError;
using kernel_test::Uniform;

class KernelsTest : public kernel_test::ThreadsFixture<1234u> {};

const char* Name(Eltwise e) {
  switch (e) {
    case Eltwise::kNone:
      return "none";
    case Eltwise::kGeluErf:
      return "gelu_erf";
    case Eltwise::kGeluTanh:
      return "gelu_tanh";
    case Eltwise::kRelu:
      return "relu";
    case Eltwise::kSilu:
      return "silu";
  }
  return "?";
}

// GEMM + bias + activation, and GEMM + bias + residual accumulate, each at several row counts
// with one prepacked weight.
TEST_P(KernelsTest, LinearMatchesReference) {
  struct Shape {
    int in, out;
  };
  std::vector<Shape> shapes = {{96, 288}, {48, 144}, {7, 3},   {1, 1},     {192, 384},
                               {384, 96}, {24, 40},  {40, 24}, {64, 1000}, {36, 108}};
  for (int i = 0; i < 6; ++i) shapes.push_back({Uniform(rng_, 1, 200), Uniform(rng_, 1, 200)});
  const Eltwise activations[] = {Eltwise::kNone, Eltwise::kGeluErf, Eltwise::kGeluTanh,
                                 Eltwise::kRelu, Eltwise::kSilu};
  int index = 0;
  for (const Shape& shape : shapes) {
    for (LinearEpilogue epilogue : {LinearEpilogue::kStore, LinearEpilogue::kAccumulate}) {
      const Eltwise activation = activations[index % 5];
      const bool with_bias = index % 3 != 2;
      ++index;
      LinearSpec spec{shape.in, shape.out, activation, epilogue};
      SCOPED_TRACE(testing::Message()
                   << shape.in << "x" << shape.out << " act " << Name(activation)
                   << (epilogue == LinearEpilogue::kAccumulate ? " accumulate" : " store")
                   << (with_bias ? " bias" : " no bias"));
      auto w = Random(rng_, size_t(shape.in) * shape.out);
      auto b = with_bias ? Random(rng_, shape.out) : std::vector<float>();
      auto linear = Linear::Create(runtime_.get(), spec, w, b);
      ASSERT_TRUE(linear.ok()) << linear.status();
      for (int rows : {1, 197, Uniform(rng_, 2, 300)}) {
        auto x = Random(rng_, size_t(rows) * shape.in);
        auto y = Random(rng_, size_t(rows) * shape.out);  // the residual when accumulating
        auto expected = y;
        reference::Linear(spec, rows, x, w, b, expected);
        ASSERT_TRUE((*linear)->Run(rows, x.data(), y.data()).ok()) << rows << " rows";
        EXPECT_LE(RelativeError(y, expected), kTolerance)
            << rows << " rows, " << (*linear)->ImplementationName(rows);
      }
    }
  }
}

// `v` rounded to bfloat16 (round to nearest even), as oneDNN converts fp32 to bf16.
std::vector<float> RoundedToBf16(std::vector<float> v) {
  for (float& x : v) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits += 0x7fff + ((bits >> 16) & 1);
    bits &= 0xffff0000u;
    std::memcpy(&x, &bits, sizeof bits);
  }
  return v;
}

// In bf16 the GEMM sees x and W rounded to bfloat16 and accumulates in fp32: against the
// reference on the rounded inputs it agrees to fp32 accumulation error. A host without native
// bf16 refuses to make such a layer (CheckHostRuns), by name.
TEST_P(KernelsTest, LinearInBf16IsTheGemmOfTheRoundedInputs) {
  if (absl::Status runs = CheckHostRuns(Precision::kBF16); !runs.ok()) {
    EXPECT_EQ(runs.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(std::string(runs.message()).find(HostIsaName()), std::string::npos) << runs;
    return;
  }
  struct Shape {
    int in, out;
  };
  const Shape shapes[] = {{96, 288}, {7, 3}, {1, 1}, {384, 96}, {64, 1000}, {768, 768}};
  int index = 0;
  for (const Shape& shape : shapes) {
    const LinearEpilogue epilogue =
        index % 2 == 0 ? LinearEpilogue::kStore : LinearEpilogue::kAccumulate;
    const Eltwise activation = index % 3 == 0 ? Eltwise::kGeluErf : Eltwise::kNone;
    ++index;
    LinearSpec spec{.in_features = shape.in,
                    .out_features = shape.out,
                    .activation = activation,
                    .epilogue = epilogue,
                    .precision = Precision::kBF16};
    SCOPED_TRACE(testing::Message() << shape.in << "x" << shape.out);
    auto w = Random(rng_, size_t(shape.in) * shape.out);
    auto b = Random(rng_, shape.out);
    auto linear = Linear::Create(runtime_.get(), spec, w, b);
    ASSERT_TRUE(linear.ok()) << linear.status();
    for (int rows : {1, 197, Uniform(rng_, 2, 300)}) {
      auto x = Random(rng_, size_t(rows) * shape.in);
      auto y = Random(rng_, size_t(rows) * shape.out);
      auto expected = y;
      reference::Linear(spec, rows, RoundedToBf16(x), RoundedToBf16(w), b, expected);
      ASSERT_TRUE((*linear)->Run(rows, x.data(), y.data()).ok()) << rows << " rows";
      const std::string kernel = (*linear)->ImplementationName(rows);
      EXPECT_LE(RelativeError(y, expected), kTolerance) << rows << " rows, " << kernel;
      EXPECT_NE(kernel.find("bf16"), std::string::npos) << kernel;  // native, not emulated
      // The unrounded fp32 product differs by bf16's rounding: it is a different computation.
    }
  }
}

// In int8 every output may differ from the fp32 GEMM by what quantizing its operands moves it:
// per product, |dx| |w| + |x| |dw| + |dx| |dw| with |dx| <= x's step / 2 and |dw| <= the row's
// step / 2 (kernels/quantize.h), times GELU's steepest slope (1.13) where it follows. The bound
// is tight enough to catch a wrong scale, a lost zero point or a saturated 16-bit pair sum (the
// all-positive case, where 255 x 127 pairs overflow without VNNI), and loose enough for rounding.
TEST_P(KernelsTest, LinearInInt8StaysWithinItsQuantizationError) {
  ASSERT_TRUE(CheckHostRuns(Precision::kInt8).ok()) << "every supported host has AVX2";
  struct Case {
    int in, out;
    float x_lo, x_hi, w_lo, w_hi;
  };
  const Case cases[] = {{96, 288, -1, 1, -1, 1},      {7, 3, -2, 5, -1, 1},
                        {1, 1, -1, 1, -1, 1},         {384, 96, -0.2f, 3, -0.5f, 0.5f},
                        {768, 768, 0, 1, 0.5f, 1},    {64, 1000, -4, -1, -1, 1},
                        {3072, 64, 0, 6, -0.1f, 0.1f}};
  int index = 0;
  for (const Case& c : cases) {
    const LinearEpilogue epilogue =
        index % 2 == 0 ? LinearEpilogue::kStore : LinearEpilogue::kAccumulate;
    const Eltwise activation = index % 3 == 0 ? Eltwise::kGeluErf : Eltwise::kNone;
    const bool with_bias = index % 4 != 3;
    ++index;
    const LinearSpec spec{.in_features = c.in,
                          .out_features = c.out,
                          .activation = activation,
                          .epilogue = epilogue,
                          .precision = Precision::kInt8};
    SCOPED_TRACE(testing::Message() << c.in << "x" << c.out << " x in [" << c.x_lo << ", " << c.x_hi
                                    << "], w in [" << c.w_lo << ", " << c.w_hi << "]");
    auto w = Random(rng_, size_t(c.in) * c.out, c.w_lo, c.w_hi);
    auto b = with_bias ? Random(rng_, c.out) : std::vector<float>();
    auto linear = Linear::Create(runtime_.get(), spec, w, b);
    ASSERT_TRUE(linear.ok()) << linear.status();
    const int limit = Int8WeightLimit();
    std::vector<float> w_step(c.out);
    for (int o = 0; o < c.out; ++o) {
      float largest = 0;
      for (int i = 0; i < c.in; ++i)
        largest = std::max(largest, std::fabs(w[size_t(o) * c.in + i]));
      w_step[o] = largest / limit;
    }
    for (int rows : {1, 197, Uniform(rng_, 2, 300)}) {
      auto x = Random(rng_, size_t(rows) * c.in, c.x_lo, c.x_hi);
      auto y = Random(rng_, size_t(rows) * c.out);
      auto expected = y;
      LinearSpec fp32 = spec;
      fp32.precision = Precision::kF32;
      reference::Linear(fp32, rows, x, w, b, expected);
      const absl::Status ran = (*linear)->Run(rows, x.data(), y.data());
      ASSERT_TRUE(ran.ok()) << rows << " rows: " << ran;
      const float x_step = (std::max(c.x_hi, 0.f) - std::min(c.x_lo, 0.f)) / 255.f;
      double worst_ratio = 0;
      for (int r = 0; r < rows; ++r) {
        for (int o = 0; o < c.out; ++o) {
          double bound = 0;
          for (int i = 0; i < c.in; ++i) {
            const double xi = std::fabs(x[size_t(r) * c.in + i]);
            const double wi = std::fabs(w[size_t(o) * c.in + i]);
            bound += x_step / 2 * wi + xi * w_step[o] / 2 + x_step / 2 * w_step[o] / 2;
          }
          if (activation == Eltwise::kGeluErf) bound *= 1.13;
          const size_t at = size_t(r) * c.out + o;
          const double error = std::fabs(double{y[at]} - expected[at]);
          worst_ratio =
              std::max(worst_ratio, error / (bound * 1.001 + 1e-4 * (1 + std::fabs(expected[at]))));
        }
      }
      EXPECT_LE(worst_ratio, 1.0) << rows << " rows, " << (*linear)->ImplementationName(rows);
      // And it is not the fp32 GEMM in disguise: quantization moves some outputs.
      if (c.in > 1) {
        EXPECT_GT(RelativeError(y, expected), 1e-6) << rows << " rows";
      }
    }
  }
}

// A batch's images are quantized one by one (groups): an image's output is the same, bit for
// bit, whether its batch partner's activations are like its own or 1000x larger -- and without
// groups, that partner would coarsen its quantization.
TEST_P(KernelsTest, LinearInInt8QuantizesEachGroupOnItsOwn) {
  const LinearSpec spec{.in_features = 96,
                        .out_features = 64,
                        .activation = Eltwise::kGeluErf,
                        .precision = Precision::kInt8};
  auto w = Random(rng_, size_t(96) * 64), b = Random(rng_, 64);
  auto linear = Linear::Create(runtime_.get(), spec, w, b);
  ASSERT_TRUE(linear.ok()) << linear.status();
  const int rows = 10;
  auto image = Random(rng_, size_t(rows) * 96);
  auto ordinary = Random(rng_, size_t(rows) * 96);
  auto extreme = Random(rng_, size_t(rows) * 96, -1000.f, 1000.f);
  auto batch_of = [&](const std::vector<float>& partner) {
    std::vector<float> x = image;
    x.insert(x.end(), partner.begin(), partner.end());
    return x;
  };
  std::vector<float> with_ordinary(size_t(2) * rows * 64), with_extreme(with_ordinary.size()),
      ungrouped(with_ordinary.size());
  ASSERT_TRUE((*linear)->Run(2 * rows, batch_of(ordinary).data(), with_ordinary.data(), 2).ok());
  ASSERT_TRUE((*linear)->Run(2 * rows, batch_of(extreme).data(), with_extreme.data(), 2).ok());
  const std::span<const float> first(with_ordinary.data(), size_t(rows) * 64);
  EXPECT_TRUE(std::equal(first.begin(), first.end(), with_extreme.begin()));
  ASSERT_TRUE((*linear)->Run(2 * rows, batch_of(extreme).data(), ungrouped.data(), 1).ok());
  EXPECT_FALSE(std::equal(first.begin(), first.end(), ungrouped.begin()));
  EXPECT_FALSE((*linear)->Run(2 * rows, image.data(), ungrouped.data(), 3).ok())
      << "rows not a multiple of the groups";
}

TEST(QuantizeTest, WeightsPerRowRoundTripWithinHalfAStep) {
  const std::vector<float> w = {0.5f, -1.0f, 0.25f,  // row 0: scale 1/127
                                0.f,  0.f,   0.f,    // row 1: all zero
                                3.f,  -3.f,  0.1f};  // row 2: scale 3/63 at limit 63
  for (int limit : {127, 63}) {
    auto q = QuantizeWeightsPerRow(w, 3, 3, limit);
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_FLOAT_EQ(q->scales[0], 1.f / limit);
    EXPECT_EQ(q->values[1], -limit);
    EXPECT_EQ(q->values[0], std::nearbyint(0.5f / q->scales[0]));
    for (int i = 3; i < 6; ++i) EXPECT_EQ(q->values[i], 0);
    EXPECT_EQ(q->values[6], limit);
    EXPECT_EQ(q->values[7], -limit);
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) {
        const size_t i = size_t(r) * 3 + c;
        EXPECT_LE(std::fabs(q->values[i] * q->scales[r] - w[i]), q->scales[r] / 2 + 1e-7);
        EXPECT_LE(std::abs(int{q->values[i]}), limit);
      }
    }
  }
  std::vector<float> bad = w;
  bad[4] = std::numeric_limits<float>::quiet_NaN();
  auto refused = QuantizeWeightsPerRow(bad, 3, 3, 127);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(refused.status().message()).find("weight [1][1]"), std::string::npos)
      << refused.status();
  bad[4] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(QuantizeWeightsPerRow(bad, 3, 3, 127).ok());
  // Subnormal weights: the scale's floor, not 0 / 0.
  const std::vector<float> tiny = {1e-42f, -3e-44f, 0.f};
  auto floored = QuantizeWeightsPerRow(tiny, 1, 3, 127);
  ASSERT_TRUE(floored.ok());
  EXPECT_EQ(floored->scales[0], kMinQuantizationScale);
  for (int8_t v : floored->values) EXPECT_EQ(v, 0);
  EXPECT_FALSE(QuantizeWeightsPerRow(w, 3, 2, 127).ok()) << "size mismatch";
  EXPECT_FALSE(QuantizeWeightsPerRow(w, 3, 3, 128).ok()) << "int8 holds +-127 at most";
}

TEST(QuantizeTest, U8RangeHoldsZeroExactlyAndDegenerateRangesAreSafe) {
  U8Quantization q = ChooseU8Quantization(-1.f, 3.f);
  EXPECT_FLOAT_EQ(q.scale, 4.f / 255);
  EXPECT_EQ(q.zero_point, 64);         // 1 / (4 / 255) = 63.75 -> 64
  q = ChooseU8Quantization(2.f, 5.f);  // widened to [0, 5]: 0 is representable
  EXPECT_FLOAT_EQ(q.scale, 5.f / 255);
  EXPECT_EQ(q.zero_point, 0);
  q = ChooseU8Quantization(-6.f, -2.f);  // widened to [-6, 0]
  EXPECT_EQ(q.zero_point, 255);
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (auto [lo, hi] :
       {std::pair{-inf, 1.f}, std::pair{0.f, inf}, std::pair{nan, 1.f}, std::pair{nan, nan},
        std::pair{-std::numeric_limits<float>::max(), std::numeric_limits<float>::max()}}) {
    q = ChooseU8Quantization(lo, hi);
    EXPECT_EQ(q.scale, 1.f) << lo << " " << hi;
    EXPECT_EQ(q.zero_point, 0) << lo << " " << hi;
  }
  // All zero, or so small a range that 1 / scale would overflow: the floor.
  for (auto [lo, hi] : {std::pair{0.f, 0.f}, std::pair{0.f, 1e-40f}, std::pair{-1e-30f, 0.f}}) {
    q = ChooseU8Quantization(lo, hi);
    EXPECT_EQ(q.scale, kMinQuantizationScale) << lo << " " << hi;
  }
}

// The activation quantizer (AVX-512 where the host has it, oneDNN's reductions and reorder
// elsewhere): the range it picks is the tensor's own, and every value is its nearest step,
// saturated to [0, 255] -- at sizes that are and are not multiples of the vector width.
TEST_P(KernelsTest, ActivationQuantizerPicksTheRangeAndRoundsEachValue) {
  for (auto [rows, features] : {std::pair{1, 1}, std::pair{3, 17}, std::pair{197, 768},
                                std::pair{5, 3072}, std::pair{7, 33}}) {
    SCOPED_TRACE(testing::Message() << rows << "x" << features);
    ActivationQuantizer quantizer(runtime_.get(), features);
    ASSERT_TRUE(quantizer.Prepare(rows).ok());
    const float shift = static_cast<float>(Uniform(rng_, -3, 3));
    auto x = Random(rng_, size_t(rows) * features, -2.f + shift, 5.f + shift);
    std::vector<uint8_t> q(x.size());
    auto got = quantizer.Run(rows, x.data(), q.data());
    ASSERT_TRUE(got.ok()) << got.status();
    const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    const U8Quantization expected = ChooseU8Quantization(*lo, *hi);
    EXPECT_EQ(got->scale, expected.scale);
    EXPECT_EQ(got->zero_point, expected.zero_point);
    for (size_t i = 0; i < x.size(); ++i) {
      const double exact = x[i] / double{expected.scale} + expected.zero_point;
      // Ties may round either way: within half a step (and a float's rounding) of exact.
      ASSERT_LE(std::fabs(q[i] - std::clamp(exact, 0.0, 255.0)), 0.5 + 1e-3) << "value " << i;
    }
    // An infinite value has no range: the call fails instead of quantizing garbage (NaN too,
    // where the AVX-512 quantizer runs; oneDNN's reductions may skip it).
    x[x.size() / 2] = std::numeric_limits<float>::infinity();
    EXPECT_EQ(quantizer.Run(rows, x.data(), q.data()).status().code(),
              absl::StatusCode::kInvalidArgument);
    if (HostHasAvx512()) {
      x[x.size() / 2] = std::nanf("");
      EXPECT_EQ(quantizer.Run(rows, x.data(), q.data()).status().code(),
                absl::StatusCode::kInvalidArgument);
    }
  }
}

// oneDNN falls back to its reference convolution (1000x slower) for row counts whose fast kernel
// cannot use the packed layout (seen: brgconv_1x1 on AVX-512, ViT-B shapes at 197 rows with a
// layout packed for 256). Prepare must then give that row count its own layout.
TEST_P(KernelsTest, LinearNeverRunsTheReferenceKernelAtViTShapes) {
  const struct {
    int in, out;
  } shapes[] = {{768, 768}, {768, 2304}, {768, 3072}, {3072, 768}, {192, 576}, {96, 96}, {384, 96}};
  std::vector<Precision> precisions = {Precision::kF32};
  if (CheckHostRuns(Precision::kBF16).ok()) precisions.push_back(Precision::kBF16);
  if (CheckHostRuns(Precision::kInt8).ok()) precisions.push_back(Precision::kInt8);
  // The epilogues a ViT uses: QKV (bias), MLP up (bias + GELU), output projections (bias +
  // residual); and none at all. (oneDNN 2.6's int8 matmul, for one, has no fast kernel for a
  // binary-add bias next to a residual sum.)
  const struct {
    Eltwise activation;
    LinearEpilogue epilogue;
    bool bias;
  } epilogues[] = {{Eltwise::kNone, LinearEpilogue::kStore, false},
                   {Eltwise::kNone, LinearEpilogue::kStore, true},
                   {Eltwise::kGeluErf, LinearEpilogue::kStore, true},
                   {Eltwise::kNone, LinearEpilogue::kAccumulate, true}};
  for (const auto& shape : shapes) {
    for (int typical_rows : {0, 197}) {
      auto w = Random(rng_, size_t(shape.in) * shape.out);
      auto b = Random(rng_, shape.out);
      for (Precision precision : precisions) {
        for (const auto& e : epilogues) {
          auto linear = Linear::Create(runtime_.get(),
                                       {.in_features = shape.in,
                                        .out_features = shape.out,
                                        .activation = e.activation,
                                        .epilogue = e.epilogue,
                                        .typical_rows = typical_rows,
                                        .precision = precision},
                                       w, e.bias ? b : std::vector<float>());
          ASSERT_TRUE(linear.ok()) << linear.status();
          for (int rows : {1, 2, 8, 196, 197, 256, 1576, 3250}) {
            ASSERT_TRUE((*linear)->Prepare(rows).ok());
            EXPECT_EQ((*linear)->ImplementationName(rows).rfind("ref", 0), std::string::npos)
                << shape.in << "x" << shape.out << " " << PrecisionName(precision) << " packed for "
                << typical_rows << ", " << rows << " rows, " << Name(e.activation)
                << (e.bias ? " bias" : "")
                << (e.epilogue == LinearEpilogue::kAccumulate ? " accumulate" : "") << ": "
                << (*linear)->ImplementationName(rows);
          }
        }
      }
      // And it still computes the right thing on a row count that needed its own layout (one
      // shape: the naive reference is slow).
      if (shape.in != 768 || shape.out != 768 || typical_rows != 0) continue;
      auto linear = Linear::Create(runtime_.get(),
                                   {.in_features = shape.in, .out_features = shape.out}, w, {});
      ASSERT_TRUE(linear.ok()) << linear.status();
      const int rows = 197;
      auto x = Random(rng_, size_t(rows) * shape.in);
      std::vector<float> y(size_t(rows) * shape.out), expected(y.size());
      reference::Linear({shape.in, shape.out}, rows, x, w, {}, expected);
      ASSERT_TRUE((*linear)->Run(rows, x.data(), y.data()).ok());
      EXPECT_LE(RelativeError(y, expected), kTolerance);
    }
  }
}

TEST_P(KernelsTest, LinearRejectsBadArguments) {
  std::vector<float> w(6), b(2);
  EXPECT_FALSE(Linear::Create(runtime_.get(), {3, 2}, std::span<const float>(w).first(5), b).ok());
  EXPECT_FALSE(Linear::Create(runtime_.get(), {3, 2}, w, std::span<const float>(b).first(1)).ok());
  EXPECT_FALSE(Linear::Create(runtime_.get(), {0, 2}, {}, {}).ok());
  auto linear = Linear::Create(runtime_.get(), {3, 2}, w, b);
  ASSERT_TRUE(linear.ok());
  EXPECT_FALSE((*linear)->Prepare(0).ok());
}

TEST_P(KernelsTest, LayerNormMatchesReference) {
  for (int i = 0; i < 12; ++i) {
    const int features = i < 4 ? std::vector<int>{768, 96, 1, 7}[i] : Uniform(rng_, 2, 500);
    const float eps = i % 2 ? 1e-12f : 1e-5f;
    SCOPED_TRACE(testing::Message() << features << " features, eps " << eps);
    auto gamma = Random(rng_, features, 0.5f, 1.5f), beta = Random(rng_, features);
    auto norm = LayerNorm::Create(runtime_.get(), features, eps, gamma, beta);
    ASSERT_TRUE(norm.ok()) << norm.status();
    for (int rows : {1, Uniform(rng_, 2, 400)}) {
      // Offset and scaled rows, as residual streams are.
      auto x = Random(rng_, size_t(rows) * features, -3.f, 5.f);
      std::vector<float> y(x.size()), expected(x.size());
      reference::LayerNorm(rows, features, eps, x, gamma, beta, expected);
      ASSERT_TRUE((*norm)->Run(rows, x.data(), y.data()).ok());
      if (features == 1) {
        // var = 0: the output is beta (up to the eps term).
        for (size_t j = 0; j < y.size(); ++j) EXPECT_NEAR(y[j], beta[0], 1e-4);
      } else {
        EXPECT_LE(RelativeError(y, expected), kTolerance) << rows << " rows";
      }
    }
  }
}

// Attention reading Q, K, V straight out of a fused [tokens][3 * hidden] buffer (the encoder
// layers), and out of separate padded buffers (the last layer's few queries), for groups of
// one to three images, with both kernels (up to 130 queries: the fused kernel splits them into
// one to three blocks).
TEST_P(KernelsTest, AttentionMatchesReference) {
  for (int i = 0; i < 28; ++i) {
    const AttentionKernel kernel = i < 14 ? AttentionKernel::kFused : AttentionKernel::kSeparate;
    const int images = i % 14 < 2 ? 1 : Uniform(rng_, 1, 3);
    const int heads = i % 14 == 0 ? 12 : Uniform(rng_, 1, 5);
    const int d = i % 14 == 0 ? 64 : Uniform(rng_, 1, 40);
    const int keys = i % 14 == 0 ? 197 : Uniform(rng_, 1, 130);
    const bool fused = i % 2 == 0;
    const int queries = fused ? keys : Uniform(rng_, 1, 3);
    const int64_t hidden = int64_t{heads} * d;
    AttentionSpec spec;
    spec.num_images = images;
    spec.num_heads = heads;
    spec.head_dim = d;
    spec.num_queries = queries;
    spec.num_keys = keys;
    spec.scale = 1.f / std::sqrt(static_cast<float>(d));
    spec.kernel = kernel;
    spec.num_threads = GetParam();
    std::vector<float> q, kv;
    const float *qp, *kp, *vp;
    if (fused) {
      spec.q_row_stride = spec.k_row_stride = spec.v_row_stride = 3 * hidden;
      spec.out_row_stride = hidden;
      spec.q_image_stride = spec.k_image_stride = spec.v_image_stride = keys * 3 * hidden;
      spec.out_image_stride = queries * hidden;
      kv = Random(rng_, size_t(images) * keys * 3 * hidden, -2.f, 2.f);
      qp = kv.data();
      kp = kv.data() + hidden;
      vp = kv.data() + 2 * hidden;
    } else {
      spec.q_row_stride = hidden + 3;
      spec.k_row_stride = spec.v_row_stride = 2 * hidden;
      spec.out_row_stride = hidden + 5;
      spec.q_image_stride = queries * spec.q_row_stride + 1;
      spec.k_image_stride = spec.v_image_stride = keys * 2 * hidden;
      spec.out_image_stride = queries * spec.out_row_stride + 2;
      q = Random(rng_, size_t(images) * spec.q_image_stride, -2.f, 2.f);
      kv = Random(rng_, size_t(images) * keys * 2 * hidden, -2.f, 2.f);
      qp = q.data();
      kp = kv.data();
      vp = kv.data() + hidden;
    }
    SCOPED_TRACE(testing::Message()
                 << images << " images, " << heads << " heads x " << d << ", " << queries
                 << " queries, " << keys << " keys, " << (fused ? "fused QKV" : "separate QKV")
                 << ", kernel " << AttentionKernelName(kernel));
    auto attention = Attention::Create(runtime_.get(), spec);
    ASSERT_TRUE(attention.ok()) << attention.status();
    const size_t out_size = size_t(images) * spec.out_image_stride;
    std::vector<float> got(out_size, 7.f), expected(out_size, 7.f);
    std::vector<float> scores((*attention)->scores_size());
    ASSERT_TRUE((*attention)->Run(qp, kp, vp, got.data(), scores.data()).ok());
    for (int b = 0; b < images; ++b) {
      reference::Attention(spec, qp + b * spec.q_image_stride, kp + b * spec.k_image_stride,
                           vp + b * spec.v_image_stride,
                           expected.data() + b * spec.out_image_stride);
    }
    EXPECT_LE(RelativeError(got, expected), kTolerance);
  }
}

TEST_P(KernelsTest, AttentionRejectsBadShapes) {
  AttentionSpec spec{.num_heads = 2,
                     .head_dim = 4,
                     .num_queries = 3,
                     .num_keys = 3,
                     .q_row_stride = 7,
                     .k_row_stride = 8,
                     .v_row_stride = 8,
                     .out_row_stride = 8,
                     .scale = 1.f};
  EXPECT_FALSE(Attention::Create(runtime_.get(), spec).ok());  // q stride < heads * dim
  spec.q_row_stride = 8;
  spec.kernel = AttentionKernel::kFused;
  spec.num_threads = 0;  // the fused kernel needs one score block per thread
  EXPECT_FALSE(Attention::Create(runtime_.get(), spec).ok());
  spec.num_threads = 1;
  EXPECT_TRUE(Attention::Create(runtime_.get(), spec).ok());
  spec.num_heads = 0;
  EXPECT_FALSE(Attention::Create(runtime_.get(), spec).ok());
}

void CheckSoftmax(void (*softmax)(float*, int64_t, int64_t, int64_t), std::mt19937& rng) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  for (int cols = 1; cols <= 40; ++cols) {
    const int rows = 3, stride = cols + 3;
    std::vector<float> data = Random(rng, size_t(rows) * stride, -30.f, 30.f);
    data[1] = -kInf;                                // row 0: a -inf score -> probability 0
    if (cols > 1) data[stride + cols - 1] = 1e30f;  // row 1: one huge score dominates
    const std::vector<float> input = data;
    softmax(data.data(), rows, cols, stride);
    for (int r = 0; r < rows; ++r) {
      const float* in = input.data() + r * stride;
      double max = -kInf, sum = 0;
      for (int c = 0; c < cols; ++c) max = std::max<double>(max, in[c]);
      for (int c = 0; c < cols; ++c) sum += std::exp(double{in[c]} - max);
      for (int c = 0; c < cols; ++c) {
        const double expected = std::exp(double{in[c]} - max) / sum;
        EXPECT_NEAR(data[r * stride + c], expected, 1e-6 * (1 + expected))
            << "row " << r << " col " << c << " of " << cols;
      }
      for (int c = cols; c < stride; ++c) EXPECT_EQ(data[r * stride + c], input[r * stride + c]);
    }
  }
  // Rows of 2, 8, 9 and 17: a NaN or only -inf in the vector part and in the tail make their row
  // NaN (-inf minus a -inf maximum, as in PyTorch) and leave the next rows alone.
  for (int cols : {2, 8, 9, 17}) {
    for (int at : {0, cols - 1}) {
      SCOPED_TRACE(testing::Message() << cols << " columns, special value at " << at);
      std::vector<float> rows(size_t(4) * cols, 0.f);
      rows[at] = std::nanf("");
      std::fill_n(rows.begin() + 2 * cols, cols, -kInf);
      softmax(rows.data(), 4, cols, cols);
      for (int c = 0; c < cols; ++c) {
        EXPECT_TRUE(std::isnan(rows[c])) << c;
        EXPECT_FLOAT_EQ(rows[cols + c], 1.f / cols) << c;
        EXPECT_TRUE(std::isnan(rows[2 * cols + c])) << c;
        EXPECT_FLOAT_EQ(rows[3 * cols + c], 1.f / cols) << c;
      }
    }
  }
}

// Softmax rows of every length up to 40 (full vectors and tails), against a double reference;
// large and -inf scores, and NaN spreading to its row only. Both the host's implementation and
// the portable one.
TEST_P(KernelsTest, SoftmaxMatchesReference) {
  for (const auto softmax : {&SoftmaxRows, &SoftmaxRowsScalar}) {
    SCOPED_TRACE(softmax == &SoftmaxRows ? SoftmaxImplementationName() : "scalar");
    CheckSoftmax(softmax, rng_);
  }
}

// Patch unfolding + GEMM equals the strided convolution, including partial edge patches that
// the convolution drops.
TEST_P(KernelsTest, PatchEmbeddingMatchesConvolution) {
  for (int i = 0; i < 10; ++i) {
    PatchGeometry g;
    g.channels = i == 0 ? 3 : Uniform(rng_, 1, 3);
    g.patch_height = i == 0 ? 16 : Uniform(rng_, 1, 9);
    g.patch_width = i == 0 ? 16 : Uniform(rng_, 1, 9);
    g.image_height = i == 0 ? 224 : g.patch_height * Uniform(rng_, 1, 6) + Uniform(rng_, 0, 3);
    g.image_width = i == 0 ? 224 : g.patch_width * Uniform(rng_, 1, 6) + Uniform(rng_, 0, 3);
    const int hidden = i == 0 ? 96 : Uniform(rng_, 1, 64);
    SCOPED_TRACE(testing::Message()
                 << g.channels << "x" << g.image_height << "x" << g.image_width << " patch "
                 << g.patch_height << "x" << g.patch_width << " -> " << hidden);
    auto image = Random(rng_, size_t(g.channels) * g.image_height * g.image_width);
    auto weight = Random(rng_, size_t(hidden) * g.patch_size());
    auto bias = Random(rng_, hidden);
    std::vector<float> unfolded(size_t(g.num_patches()) * g.patch_size(), NAN);
    UnfoldPatches(g, image.data(), unfolded.data());
    auto linear = Linear::Create(runtime_.get(), {g.patch_size(), hidden}, weight, bias);
    ASSERT_TRUE(linear.ok()) << linear.status();
    std::vector<float> got(size_t(g.num_patches()) * hidden), expected(got.size());
    ASSERT_TRUE((*linear)->Run(g.num_patches(), unfolded.data(), got.data()).ok());
    reference::PatchConvolution(g, hidden, image, weight, bias, expected);
    EXPECT_LE(RelativeError(got, expected), kTolerance);
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, KernelsTest, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace tessera::engine::kernels
