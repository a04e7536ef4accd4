// The forward pass against transformers' logits (tests/fixtures/make_vit_fixtures.py): every
// fixture checkpoint (ViT, DeiT, DeiT with teacher, odd head count, non-224 and non-square
// images, partial edge patches, qkv_bias false, tanh GELU, F16 and BF16 weights, the pretrained
// fashion-vit) on fixed random pixels, at several thread counts and batch sizes, with both
// attention kernels.
// Tolerance: max |logit difference| <= 1e-3 and the same top-1 class.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include "engine/vit/vit_fixtures.h"
#include "engine/vit/vit_model.h"
#include "gtest/gtest.h"

namespace tessera::engine {
namespace {

using testing::ArgMaxRows;
using testing::MaxAbsDiff;
using testing::ReadFloats;

constexpr double kLogitTolerance = 1e-3;

class VitModelGoldenTest
    : public ::testing::TestWithParam<std::tuple<int, kernels::AttentionKernel>> {};

TEST_P(VitModelGoldenTest, LogitsMatchTransformers) {
  const auto [threads, attention] = GetParam();
  auto fixtures = testing::LoadVitFixtures();
  ASSERT_TRUE(fixtures.has_value());
  ASSERT_GE(fixtures->size(), 9u);
  double worst = 0;
  for (const auto& fixture : *fixtures) {
    SCOPED_TRACE(fixture.name);
    // Stale fixtures (a checkpoint they name is gone) fail: regenerate them, never skip.
    ASSERT_TRUE(std::filesystem::exists(fixture.dir))
        << fixture.dir << " is gone: regenerate with scripts/make-fixtures.sh";
    auto model = VitModel::Load(
        fixture.dir, {.num_threads = threads, .max_batch_size = 4, .attention = attention});
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ((*model)->config().num_labels(), fixture.num_labels);
    EXPECT_EQ((*model)->num_parameters(), fixture.num_parameters);
    EXPECT_EQ(ArchitectureName((*model)->config().architecture), fixture.architecture);
    for (const auto& c : fixture.pixel_cases) {
      SCOPED_TRACE(c.name);
      std::vector<float> pixels = ReadFloats(c.pixels);
      std::vector<float> expected = ReadFloats(c.logits);
      std::vector<float> logits(expected.size());
      ASSERT_TRUE((*model)->Forward(pixels, c.batch, logits).ok());
      double diff = MaxAbsDiff(logits, expected);
      worst = std::max(worst, diff);
      EXPECT_LE(diff, kLogitTolerance);
      EXPECT_EQ(ArgMaxRows(logits, fixture.num_labels), ArgMaxRows(expected, fixture.num_labels));

      // Each image alone gives the same logits as in the batch.
      const size_t per_image = pixels.size() / c.batch, labels = fixture.num_labels;
      for (int b = 0; b < c.batch; ++b) {
        std::vector<float> one(labels);
        ASSERT_TRUE(
            (*model)
                ->Forward(std::span<const float>(pixels).subspan(b * per_image, per_image), 1, one)
                .ok());
        EXPECT_LE(MaxAbsDiff(one, std::span<const float>(logits).subspan(b * labels, labels)), 1e-4)
            << "image " << b << " alone differs from the batch";
      }
    }
  }
  std::printf("threads %d, %s attention: worst max |logit diff| over all fixture models: %.3g\n",
              threads, kernels::AttentionKernelName(attention), worst);
}

INSTANTIATE_TEST_SUITE_P(Threads, VitModelGoldenTest,
                         ::testing::Combine(::testing::Values(1, 2, 3),
                                            ::testing::Values(kernels::AttentionKernel::kFused,
                                                              kernels::AttentionKernel::kSeparate)),
                         [](const ::testing::TestParamInfo<VitModelGoldenTest::ParamType>& info) {
                           return std::to_string(std::get<0>(info.param)) + "_threads_" +
                                  kernels::AttentionKernelName(std::get<1>(info.param));
                         });

TEST(VitModelTest, RejectsBadForwardArguments) {
  auto fixture = testing::FindVitFixture("vit-odd-heads");
  ASSERT_TRUE(fixture.has_value());
  auto model = VitModel::Load(fixture->dir, {.num_threads = 1, .max_batch_size = 2});
  ASSERT_TRUE(model.ok()) << model.status();
  const size_t per_image = (*model)->config().pixels_per_image();
  const size_t labels = (*model)->config().num_labels();
  std::vector<float> pixels(3 * per_image, 0.f), logits(3 * labels);
  // Batch above max_batch_size, zero, negative.
  EXPECT_EQ((*model)->Forward(pixels, 3, logits).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      (*model)
          ->Forward(std::span<const float>(pixels).first(0), 0, std::span<float>(logits).first(0))
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*model)->Forward(pixels, -1, logits).code(), absl::StatusCode::kInvalidArgument);
  // Sizes that do not match the batch.
  EXPECT_EQ((*model)
                ->Forward(std::span<const float>(pixels).first(per_image + 1), 1,
                          std::span<float>(logits).first(labels))
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*model)
                ->Forward(std::span<const float>(pixels).first(per_image), 1,
                          std::span<float>(logits).first(labels - 1))
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Non-finite pixels give an error, not NaN confidences.
  pixels[5] = std::nanf("");
  EXPECT_EQ((*model)
                ->Forward(std::span<const float>(pixels).first(per_image), 1,
                          std::span<float>(logits).first(labels))
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Still fine afterwards.
  pixels[5] = 0.f;
  EXPECT_TRUE((*model)
                  ->Forward(std::span<const float>(pixels).first(2 * per_image), 2,
                            std::span<float>(logits).first(2 * labels))
                  .ok());
}

// In every precision the host runs, NaN or infinite pixels are an error (int8 stops at the
// first layer whose activations have no range), and the model serves normally afterwards.
TEST(VitModelTest, NonFinitePixelsAreAnErrorInEveryPrecision) {
  auto fixture = testing::FindVitFixture("vit-odd-heads");
  ASSERT_TRUE(fixture.has_value());
  for (kernels::Precision precision : kernels::kAllPrecisions) {
    if (!kernels::CheckHostRuns(precision).ok()) continue;  // refused by name: precision tests
    SCOPED_TRACE(std::string(kernels::PrecisionName(precision)));
    auto model = VitModel::Load(fixture->dir,
                                {.num_threads = 2, .max_batch_size = 2, .precision = precision});
    ASSERT_TRUE(model.ok()) << model.status();
    const size_t per_image = (*model)->config().pixels_per_image();
    std::vector<float> pixels(2 * per_image, 0.25f), logits(2 * (*model)->config().num_labels());
    for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
      pixels[per_image + 7] = bad;  // the second image
      EXPECT_EQ((*model)->Forward(pixels, 2, logits).code(), absl::StatusCode::kInvalidArgument)
          << bad;
    }
    pixels[per_image + 7] = 0.25f;
    EXPECT_TRUE((*model)->Forward(pixels, 2, logits).ok());
  }
}

TEST(VitModelTest, RejectsBadOptions) {
  auto fixture = testing::FindVitFixture("vit-odd-heads");
  ASSERT_TRUE(fixture.has_value());
  EXPECT_EQ(VitModel::Load(fixture->dir, {.max_batch_size = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VitModel::Load(fixture->dir, {.num_threads = -1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VitModelTest, WarmUpThenForwardGivesSameLogits) {
  auto fixture = testing::FindVitFixture("deit-teacher");
  ASSERT_TRUE(fixture.has_value());
  auto model = VitModel::Load(fixture->dir, {.num_threads = 2, .max_batch_size = 3});
  ASSERT_TRUE(model.ok()) << model.status();
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE((*model)->WarmUp(b).ok());
  EXPECT_FALSE((*model)->WarmUp(4).ok());
  const auto& c = fixture->pixel_cases.back();
  std::vector<float> pixels = ReadFloats(c.pixels), expected = ReadFloats(c.logits);
  std::vector<float> logits(expected.size());
  for (int repeat = 0; repeat < 3; ++repeat) {
    ASSERT_TRUE((*model)->Forward(pixels, c.batch, logits).ok());
    EXPECT_LE(MaxAbsDiff(logits, expected), kLogitTolerance);
  }
}

}  // namespace
}  // namespace tessera::engine
