// The bf16 activation path of the forward pass: linear layers that read or write bf16, GELU and
// LayerNorm into bf16, and attention over bf16 Q, K, V (both kernels: the AMX tile kernel where the
// host has AMX, oneDNN's bf16 matmuls elsewhere) against the double reference on the same, rounded,
// inputs. Where the host has no native bf16 (or no AMX, for the fused kernel) the kernels refuse by
// name.
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/kernels/attention.h"
#include "engine/kernels/attention_amx.h"
#include "engine/kernels/bfloat16.h"
#include "engine/kernels/dnnl_runtime.h"
#include "engine/kernels/gelu.h"
#include "engine/kernels/kernel_test_util.h"
#include "engine/kernels/layer_norm.h"
#include "engine/kernels/linear.h"
#include "engine/kernels/precision.h"
#include "engine/kernels/reference_ops.h"
#include "gtest/gtest.h"

namespace tessera::engine::kernels {
namespace {

using kernel_test::Random;
using kernel_test::RelativeError;
using kernel_test::Uniform;

std::vector<BFloat16> ToBf16(const std::vector<float>& v) {
  std::vector<BFloat16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = ToBFloat16(v[i]);
  return out;
}

std::vector<float> ToF32(const std::vector<BFloat16>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = ToFloat(v[i]);
  return out;
}

class Bf16ActivationsTest : public kernel_test::ThreadsFixture<4321u> {};

TEST(BFloat16Test, RoundsToNearestEvenAndKeepsSpecialValues) {
  EXPECT_EQ(ToBFloat16(1.f).bits, 0x3f80);
  // bf16 steps by 1/128 above 1: halfway points round to the even neighbour.
  EXPECT_EQ(ToFloat(ToBFloat16(1.f + 1.f / 256)), 1.f);
  EXPECT_EQ(ToFloat(ToBFloat16(1.f + 3.f / 256)), 1.f + 1.f / 64);
  EXPECT_EQ(ToFloat(ToBFloat16(1.f + 1.f / 256 + 1.f / 4096)), 1.f + 1.f / 128);
  EXPECT_TRUE(std::isinf(ToFloat(ToBFloat16(INFINITY))));
  EXPECT_TRUE(std::isnan(ToFloat(ToBFloat16(NAN))));
  EXPECT_EQ(ToFloat(ToBFloat16(-0.f)), 0.f);
}

// Attention over bf16 operands: the probabilities are rounded to bf16 before the product with
// V, so the result is within a few bf16 steps of the exact attention of the rounded inputs.
TEST_P(Bf16ActivationsTest, AttentionMatchesTheReferenceOfTheRoundedInputs) {
  const absl::Status bf16 = CheckHostRuns(Precision::kBF16);
  for (int i = 0; i < 24; ++i) {
    const AttentionKernel kernel =
        i % 2 == 0 ? AttentionKernel::kFused : AttentionKernel::kSeparate;
    const ElementType output = i % 4 < 2 ? ElementType::kF32 : ElementType::kBF16;
    const bool all_tokens = i % 3 != 2;  // Q from the fused QKV buffer, or a few queries apart
    const int images = i < 4 ? 1 : Uniform(rng_, 1, 3);
    const int heads = i < 4 ? 12 : Uniform(rng_, 1, 4);
    // Even (the AMX kernel reads pairs), whole tiles of 32 or not.
    const int d = i < 4 ? 64 : (i % 5 == 0 ? 32 * Uniform(rng_, 1, 3) : 2 * Uniform(rng_, 1, 50));
    const int keys = i < 4 ? 197 : Uniform(rng_, 1, 150);
    const int queries = all_tokens ? keys : Uniform(rng_, 1, 3);
    const int64_t hidden = int64_t{heads} * d;
    AttentionSpec spec{.num_images = images,
                       .num_heads = heads,
                       .head_dim = d,
                       .num_queries = queries,
                       .num_keys = keys,
                       .scale = 1.f / std::sqrt(static_cast<float>(d)),
                       .kernel = kernel,
                       .num_threads = GetParam(),
                       .input_type = ElementType::kBF16,
                       .output_type = output};
    std::vector<float> q, kv;
    int64_t k_offset = 0, v_offset = 0;
    if (all_tokens) {
      spec.q_row_stride = spec.k_row_stride = spec.v_row_stride = 3 * hidden;
      spec.q_image_stride = spec.k_image_stride = spec.v_image_stride = keys * 3 * hidden;
      kv = Random(rng_, size_t(images) * keys * 3 * hidden, -3.f, 3.f);
      k_offset = hidden;
      v_offset = 2 * hidden;
    } else {
      spec.q_row_stride = hidden + 2;
      spec.k_row_stride = spec.v_row_stride = 2 * hidden;
      spec.q_image_stride = queries * spec.q_row_stride + 4;
      spec.k_image_stride = spec.v_image_stride = keys * 2 * hidden;
      q = Random(rng_, size_t(images) * spec.q_image_stride, -3.f, 3.f);
      kv = Random(rng_, size_t(images) * keys * 2 * hidden, -3.f, 3.f);
      v_offset = hidden;
    }
    spec.out_row_stride = hidden + 6;
    spec.out_image_stride = queries * spec.out_row_stride + 2;
    SCOPED_TRACE(testing::Message()
                 << images << " images, " << heads << " heads x " << d << ", " << queries
                 << " queries, " << keys << " keys, kernel " << AttentionKernelName(kernel)
                 << ", output " << (output == ElementType::kBF16 ? "bf16" : "fp32"));
    auto attention = Attention::Create(runtime_.get(), spec);
    if (!bf16.ok()) {  // no native bf16: refused by name
      ASSERT_FALSE(attention.ok());
      EXPECT_EQ(attention.status().code(), absl::StatusCode::kFailedPrecondition);
      continue;
    }
    if (kernel == AttentionKernel::kFused && !AmxBf16Available()) {
      ASSERT_FALSE(attention.ok());
      EXPECT_EQ(attention.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_NE(std::string(attention.status().message()).find("AMX"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(attention.ok()) << attention.status();
    const std::vector<BFloat16> q16 = ToBf16(q), kv16 = ToBf16(kv);
    const std::vector<float> q_rounded = ToF32(q16), kv_rounded = ToF32(kv16);
    const BFloat16* qp = all_tokens ? kv16.data() : q16.data();
    const float* q_ref = all_tokens ? kv_rounded.data() : q_rounded.data();
    const size_t out_size = size_t(images) * spec.out_image_stride;
    std::vector<float> scores((*attention)->scores_size() + 16);
    // 64-byte aligned, as the model's workspace.
    float* aligned = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scores.data()) + 63) &
                                              ~uintptr_t{63});
    std::vector<float> got(out_size, 7.f), expected(out_size, 7.f);
    if (output == ElementType::kF32) {
      ASSERT_TRUE((*attention)
                      ->Run(qp, kv16.data() + k_offset, kv16.data() + v_offset, got.data(), aligned)
                      .ok());
    } else {
      std::vector<BFloat16> got16(out_size, ToBFloat16(7.f));
      ASSERT_TRUE(
          (*attention)
              ->Run(qp, kv16.data() + k_offset, kv16.data() + v_offset, got16.data(), aligned)
              .ok());
      got = ToF32(got16);
    }
    for (int b = 0; b < images; ++b) {
      reference::Attention(spec, q_ref + b * spec.q_image_stride,
                           kv_rounded.data() + k_offset + b * spec.k_image_stride,
                           kv_rounded.data() + v_offset + b * spec.v_image_stride,
                           expected.data() + b * spec.out_image_stride);
    }
    // Probabilities in bf16 (2^-9 relative each), averaged over keys: the AMX kernel divides by
    // the fp32 sum afterwards, the separate one rounds normalized probabilities (whose sum then
    // strays from 1 too); a bf16 output adds one more rounding. Entries between rows and heads
    // (7) must be left alone.
    const double tolerance = (kernel == AttentionKernel::kFused ? 4e-3 : 8e-3) +
                             (output == ElementType::kBF16 ? 4e-3 : 0.0);
    EXPECT_LE(RelativeError(got, expected), tolerance) << (*attention)->ImplementationName();
    if (kernel == AttentionKernel::kFused) {
      EXPECT_EQ((*attention)->ImplementationName(), "fused(amx bf16)");
    }
  }
}

// The AMX kernel on a grid of edge shapes: query counts around its 16-row tiles and 32-query
// blocks, key counts around its 16-key score tiles and 32-key products, head dims that are and
// are not whole tiles; one head and one image, so that the threads split each head into parts
// (each part packing K and V only when its thread has not). Tile loads and stores are invisible
// to AddressSanitizer: every output entry outside the heads' columns must keep its sentinel.
TEST_P(Bf16ActivationsTest, AmxAttentionOnAGridOfEdgeShapes) {
  AttentionSpec spec{.num_images = 1,
                     .num_heads = 1,
                     .kernel = AttentionKernel::kFused,
                     .num_threads = GetParam(),
                     .input_type = ElementType::kBF16};
  if (!AmxBf16Available()) {  // refused by name (the test above checks the message)
    spec.head_dim = spec.num_queries = spec.num_keys = 2;
    spec.q_row_stride = spec.k_row_stride = spec.v_row_stride = spec.out_row_stride = 2;
    EXPECT_FALSE(Attention::Create(runtime_.get(), spec).ok());
    return;
  }
  // What the kernel cannot run is refused when the attention is made: an odd head dim or K
  // stride (it reads pairs of bf16 as words), a scale that is not positive and finite (the row
  // maximum is taken before scaling).
  spec.head_dim = spec.num_queries = spec.num_keys = 4;
  spec.q_row_stride = spec.k_row_stride = spec.v_row_stride = spec.out_row_stride = 4;
  ASSERT_TRUE(Attention::Create(runtime_.get(), spec).ok());
  for (auto bad : std::vector<std::function<void(AttentionSpec&)>>{
           [](AttentionSpec& s) { s.head_dim = 3; },
           [](AttentionSpec& s) { s.k_row_stride = s.v_row_stride = 5; },
           [](AttentionSpec& s) { s.scale = 0.f; }, [](AttentionSpec& s) { s.scale = -1.f; },
           [](AttentionSpec& s) { s.scale = std::numeric_limits<float>::infinity(); },
           [](AttentionSpec& s) { s.scale = std::nanf(""); }}) {
    AttentionSpec refused = spec;
    bad(refused);
    EXPECT_EQ(Attention::Create(runtime_.get(), refused).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  for (int d : {2, 30, 32, 34, 64, 96}) {
    for (int keys : {1, 15, 16, 17, 33, 197}) {
      for (int queries : {1, 15, 16, 17, 31, 32, 33, 197}) {
        SCOPED_TRACE(testing::Message()
                     << "d " << d << ", " << keys << " keys, " << queries << " queries");
        spec.head_dim = d;
        spec.num_keys = keys;
        spec.num_queries = queries;
        spec.scale = 1.f / std::sqrt(static_cast<float>(d));
        // Each operand in its own buffer, exactly as long as its rows need.
        spec.q_row_stride = d + 2;
        spec.k_row_stride = spec.v_row_stride = 2 * d;  // K and V side by side, as in the model
        spec.out_row_stride = d + 4;
        auto attention = Attention::Create(runtime_.get(), spec);
        ASSERT_TRUE(attention.ok()) << attention.status();
        const auto q = Random(rng_, size_t(queries - 1) * spec.q_row_stride + d, -3.f, 3.f);
        const auto kv = Random(rng_, size_t(keys) * 2 * d, -3.f, 3.f);
        const std::vector<BFloat16> q16 = ToBf16(q), kv16 = ToBf16(kv);
        const std::vector<float> q_rounded = ToF32(q16), kv_rounded = ToF32(kv16);
        const size_t out_size = size_t(queries) * spec.out_row_stride;
        std::vector<float> got(out_size, 7.f), expected(out_size, 7.f);
        std::vector<float> scores((*attention)->scores_size());
        ASSERT_TRUE((*attention)
                        ->Run(q16.data(), kv16.data(), kv16.data() + d, got.data(), scores.data())
                        .ok());
        reference::Attention(spec, q_rounded.data(), kv_rounded.data(), kv_rounded.data() + d,
                             expected.data());
        ASSERT_LE(RelativeError(got, expected), 4e-3);
      }
    }
  }
}

TEST_P(Bf16ActivationsTest, AttentionRefusesOperandsOfAnotherType) {
  AttentionSpec spec{.num_heads = 1,
                     .head_dim = 32,
                     .num_queries = 3,
                     .num_keys = 3,
                     .q_row_stride = 32,
                     .k_row_stride = 32,
                     .v_row_stride = 32,
                     .out_row_stride = 32,
                     .input_type = ElementType::kBF16};
  auto attention = Attention::Create(runtime_.get(), spec);
  if (!CheckHostRuns(Precision::kBF16).ok()) {  // no native bf16: refused by name
    EXPECT_EQ(attention.status().code(), absl::StatusCode::kFailedPrecondition);
    return;
  }
  ASSERT_TRUE(attention.ok()) << attention.status();
  std::vector<float> f(96), scores((*attention)->scores_size());
  std::vector<BFloat16> b(96);
  EXPECT_EQ((*attention)->Run(f.data(), f.data(), f.data(), f.data(), scores.data()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*attention)->Run(b.data(), b.data(), b.data(), b.data(), scores.data()).code(),
            absl::StatusCode::kInvalidArgument);  // created for an fp32 output
  EXPECT_TRUE((*attention)->Run(b.data(), b.data(), b.data(), f.data(), scores.data()).ok());
  spec.input_type = ElementType::kF32;
  spec.output_type = ElementType::kBF16;
  EXPECT_EQ(Attention::Create(runtime_.get(), spec).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A bf16 layer that reads bf16 x computes what it computes on fp32 x (it rounds x first); one
// that writes bf16 y writes its fp32 result rounded (within a step: the GEMM's own conversion).
TEST_P(Bf16ActivationsTest, LinearReadsAndWritesBf16) {
  const int in = 96, out = 160;
  const auto w = Random(rng_, size_t(in) * out, -1.f, 1.f), b = Random(rng_, out, -1.f, 1.f);
  const LinearSpec f32_spec{.in_features = in,
                            .out_features = out,
                            .activation = Eltwise::kGeluErf,
                            .precision = Precision::kBF16};
  LinearSpec bad = f32_spec;
  bad.precision = Precision::kF32;
  bad.input_type = ElementType::kBF16;  // bf16 x, fp32 GEMM
  EXPECT_EQ(Linear::Create(runtime_.get(), bad, w, b).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = f32_spec;
  bad.epilogue = LinearEpilogue::kAccumulate;
  bad.output_type = ElementType::kBF16;  // a residual stream in bf16
  EXPECT_EQ(Linear::Create(runtime_.get(), bad, w, b).status().code(),
            absl::StatusCode::kInvalidArgument);
  if (absl::Status runs = CheckHostRuns(Precision::kBF16); !runs.ok()) {
    // The model refuses bf16 here by name (kernels_test checks the message).
    EXPECT_EQ(runs.code(), absl::StatusCode::kFailedPrecondition);
    return;
  }
  LinearSpec bf16_spec = f32_spec;
  bf16_spec.input_type = bf16_spec.output_type = ElementType::kBF16;
  auto reference_layer = Linear::Create(runtime_.get(), f32_spec, w, b);
  auto layer = Linear::Create(runtime_.get(), bf16_spec, w, b);
  ASSERT_TRUE(reference_layer.ok() && layer.ok());
  for (int rows : {1, 197, Uniform(rng_, 2, 300)}) {
    const auto x = Random(rng_, size_t(rows) * in, -2.f, 2.f);
    std::vector<float> expected(size_t(rows) * out);
    ASSERT_TRUE((*reference_layer)->Run(rows, x.data(), expected.data()).ok());
    const std::vector<BFloat16> x16 = ToBf16(x);
    std::vector<BFloat16> y16(expected.size());
    ASSERT_TRUE((*layer)->Run(rows, x16.data(), y16.data()).ok());
    const std::vector<float> got = ToF32(y16);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_LE(std::fabs(got[i] - expected[i]), std::fabs(expected[i]) / 128 + 1e-6f)
          << rows << " rows, entry " << i;
    }
    std::vector<float> y(expected.size());  // the overload for other types is refused
    EXPECT_EQ((*layer)->Run(rows, x.data(), y.data()).code(), absl::StatusCode::kInvalidArgument);
  }
}

// GELU after the GEMM (kernels/gelu.h) against the exact erf form, over the range where it bends,
// the tails where it is 0 or x, and both rounding targets.
TEST_P(Bf16ActivationsTest, GeluMatchesTheErfFormToFloatPrecision) {
  if (!HostHasAvx512()) {  // oneDNN's fused GELU runs instead (linear.h; kernels_test covers it)
    EXPECT_FALSE(HostHasAvx512Bf16() || HostHasAmx());
    return;
  }
  std::vector<float> x;
  for (float v = -12.f; v <= 12.f; v += 1.f / 512) x.push_back(v);
  x.push_back(-1e30f);
  x.push_back(1e30f);
  x.push_back(0.f);
  std::vector<float> y(x.size());
  GeluErf(x.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const double exact = 0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0)));
    ASSERT_LE(std::fabs(y[i] - exact), 1e-6 * (1.0 + std::fabs(exact))) << "x = " << x[i];
  }
  const float nan = std::nanf("");
  GeluErf(&nan, y.data(), 1);
  EXPECT_TRUE(std::isnan(y[0]));
  // Lengths around the vector width and the threads' 4096-value blocks, each value in place
  // (as int8 calls it) and into bf16; nothing past n is written.
  for (int64_t n : {1, 15, 16, 17, 4095, 4096, 4097, 12289}) {
    SCOPED_TRACE(n);
    std::vector<float> in_place(x.begin(), x.begin() + n + 1);
    GeluErf(in_place.data(), in_place.data(), n);
    std::vector<BFloat16> y16(size_t(n) + 1, ToBFloat16(7.f));
    if (HostHasAvx512Bf16()) GeluErfToBf16(x.data(), y16.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double exact = 0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0)));
      ASSERT_LE(std::fabs(in_place[i] - exact), 1e-6 * (1.0 + std::fabs(exact))) << x[i];
      if (HostHasAvx512Bf16()) {
        ASSERT_LE(std::fabs(ToFloat(y16[i]) - exact), std::fabs(exact) / 256 + 1e-6) << x[i];
      }
    }
    EXPECT_EQ(in_place[n], x[n]);
    EXPECT_EQ(ToFloat(y16[n]), 7.f);
  }
}

// LayerNorm into bf16: the fp32 LayerNorm rounded once.
TEST_P(Bf16ActivationsTest, LayerNormIntoBf16IsTheFp32OneRounded) {
  for (int features : {768, 192, 33, 1}) {
    const auto gamma = Random(rng_, features, 0.5f, 2.f), beta = Random(rng_, features, -1.f, 1.f);
    auto norm = LayerNorm::Create(runtime_.get(), features, 1e-6f, gamma, beta);
    ASSERT_TRUE(norm.ok()) << norm.status();
    const int rows = Uniform(rng_, 1, 300);
    const auto x = Random(rng_, size_t(rows) * features, -4.f, 6.f);
    std::vector<float> expected(x.size());
    ASSERT_TRUE((*norm)->Run(rows, x.data(), expected.data()).ok());
    std::vector<BFloat16> got(x.size());
    const absl::Status run = (*norm)->Run(rows, x.data(), got.data());
    if (!HostHasAvx512Bf16()) {
      EXPECT_EQ(run.code(), absl::StatusCode::kFailedPrecondition);
      continue;
    }
    ASSERT_TRUE(run.ok()) << run;
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_LE(std::fabs(ToFloat(got[i]) - expected[i]), std::fabs(expected[i]) / 256 + 1e-5)
          << features << " features, entry " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, Bf16ActivationsTest, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace tessera::engine::kernels
