// Prepacked weights shared through a file (kernels/packed_weight_file.h, VitModelOptions::
// packed_weights_path): the first load writes and maps it, a second load maps it without packing,
// both give transformers' logits; a stale, foreign or damaged file is ignored and rewritten.
#include <fstream>

#include "engine/kernels/packed_weight_file.h"
#include "engine/vit/vit_fixtures.h"
#include "engine/vit/vit_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/test_paths.h"

namespace tessera::engine {
namespace {

using ::testing::HasSubstr;
using testing::MaxAbsDiff;
using testing::ReadFloats;

class SharedWeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fixture = testing::FindVitFixture("deit-teacher");
    ASSERT_TRUE(fixture.has_value());
    fixture_ = *fixture;
    dir_ = std::filesystem::temp_directory_path() /
           ("shared_weights_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    path_ = dir_ / "packed" / "model.packed";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<VitModel> Load(const std::filesystem::path& packed,
                                 kernels::Precision precision = kernels::Precision::kF32) {
    auto model = VitModel::Load(fixture_.dir, {.num_threads = 2,
                                               .max_batch_size = 4,
                                               .packed_weights_path = packed,
                                               .precision = precision});
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? std::move(*model) : nullptr;
  }

  // Max |logit - transformers| over the fixture's pixel cases.
  double WorstDiff(VitModel& model) {
    double worst = 0;
    for (const auto& c : fixture_.pixel_cases) {
      std::vector<float> pixels = ReadFloats(c.pixels), expected = ReadFloats(c.logits);
      std::vector<float> logits(expected.size());
      EXPECT_TRUE(model.Forward(pixels, c.batch, logits).ok());
      worst = std::max(worst, MaxAbsDiff(logits, expected));
    }
    return worst;
  }

  // Bytes of every linear layer's fp32 weights (patch embedding, encoder, classifier): all of
  // them must be in the shared file.
  static size_t LinearWeightBytes(const VitModel& model) {
    const ViTConfig& c = model.config();
    const size_t h = c.hidden_size, i = c.intermediate_size;
    const size_t patch = size_t(c.num_channels) * c.patch_height * c.patch_width * h;
    const size_t heads = c.architecture == VitArchitecture::kDeiTWithTeacher ? 2 : 1;
    return 4 * (patch + c.num_hidden_layers * (4 * h * h + 2 * h * i) + heads * h * c.num_labels());
  }

  testing::VitFixtureModel fixture_;
  std::filesystem::path dir_, path_;
};

TEST_F(SharedWeightsTest, FirstLoadWritesSecondMapsBothExact) {
  auto first = Load(path_);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(std::filesystem::exists(path_));
  // The writer maps its own file too; every linear layer is in it (blocked layouts may pad).
  EXPECT_GE(first->shared_weight_bytes(), LinearWeightBytes(*first));
  EXPECT_LE(first->shared_weight_bytes(), first->weight_bytes());
  const auto written = std::filesystem::last_write_time(path_);

  auto second = Load(path_);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->shared_weight_bytes(), first->shared_weight_bytes());
  EXPECT_EQ(std::filesystem::last_write_time(path_), written) << "a valid file is not rewritten";

  auto alone = Load("");
  ASSERT_NE(alone, nullptr);
  EXPECT_EQ(alone->shared_weight_bytes(), 0u);
  EXPECT_LE(WorstDiff(*first), 1e-3);
  EXPECT_LE(WorstDiff(*second), 1e-3);
  EXPECT_EQ(WorstDiff(*second), WorstDiff(*alone)) << "the shared packing is the same bits";
}

// int8 layers pack two tensors each (the quantized weights and their scales): a second load maps
// both and computes the very same logits as a load that quantized for itself.
TEST_F(SharedWeightsTest, Int8SharesItsWeightsAndScales) {
  ASSERT_TRUE(kernels::CheckHostRuns(kernels::Precision::kInt8).ok())
      << "every host the engine supports has AVX2";
  auto fp32 = Load(path_);
  ASSERT_NE(fp32, nullptr);
  const std::filesystem::path int8_path = dir_ / "packed" / "model-int8.packed";
  auto first = Load(int8_path, kernels::Precision::kInt8);
  ASSERT_NE(first, nullptr);
  const auto written = std::filesystem::last_write_time(int8_path);
  auto second = Load(int8_path, kernels::Precision::kInt8);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(std::filesystem::last_write_time(int8_path), written)
      << "a valid file is not rewritten";
  EXPECT_EQ(second->shared_weight_bytes(), first->shared_weight_bytes());
  // The encoder's weights take a byte instead of four (the patch embedding takes two or four, the
  // head four).
  const ViTConfig& c = fp32->config();
  const size_t encoder_fp32_bytes = 4 * size_t(c.num_hidden_layers) *
                                    (4 * size_t(c.hidden_size) * c.hidden_size +
                                     2 * size_t(c.hidden_size) * c.intermediate_size);
  EXPECT_LT(first->shared_weight_bytes(), fp32->shared_weight_bytes() - encoder_fp32_bytes / 2);
  auto alone = Load("", kernels::Precision::kInt8);
  ASSERT_NE(alone, nullptr);
  EXPECT_EQ(WorstDiff(*second), WorstDiff(*alone)) << "the shared packing is the same bits";
  // An fp32 file is not an int8 one: loading int8 from its path ignores it and packs afresh
  // (overwriting it: real paths are keyed by the precision, so they never meet).
  auto from_fp32_file = Load(path_, kernels::Precision::kInt8);
  ASSERT_NE(from_fp32_file, nullptr);
  EXPECT_EQ(WorstDiff(*from_fp32_file), WorstDiff(*alone));
}

TEST_F(SharedWeightsTest, ForeignOrDamagedFileIsReplaced) {
  auto other = testing::FindVitFixture("vit-odd-heads");
  ASSERT_TRUE(other.has_value());
  // A file packed from other weights behind the same path.
  ASSERT_TRUE(VitModel::Load(other->dir, {.num_threads = 2, .packed_weights_path = path_}).ok());
  auto model = Load(path_);
  ASSERT_NE(model, nullptr);
  EXPECT_LE(WorstDiff(*model), 1e-3);
  EXPECT_GT(model->shared_weight_bytes(), 0u);

  // Truncated (a crash cannot do this -- writes are renamed into place -- but a full disk or a
  // user can): ignored and rewritten.
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) / 2);
  model = Load(path_);
  ASSERT_NE(model, nullptr);
  EXPECT_LE(WorstDiff(*model), 1e-3);
  // Garbage.
  { std::ofstream(path_, std::ios::trunc) << "not a packed weight file"; }
  model = Load(path_);
  ASSERT_NE(model, nullptr);
  EXPECT_LE(WorstDiff(*model), 1e-3);
  EXPECT_TRUE(kernels::PackedWeightFile::Open(path_, 0).status().code() ==
              absl::StatusCode::kFailedPrecondition)
      << "rewritten: a valid file, only the fingerprint differs";
}

TEST_F(SharedWeightsTest, UnwritablePathKeepsPrivateWeights) {
  std::filesystem::create_directories(dir_);
  { std::ofstream(dir_ / "file") << "x"; }
  auto model = Load(dir_ / "file" / "packed");  // a path under a regular file
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->shared_weight_bytes(), 0u);
  EXPECT_LE(WorstDiff(*model), 1e-3);
}

TEST(PackedWeightFileTest, OpenErrors) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("packed_weight_file_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  EXPECT_TRUE(absl::IsNotFound(kernels::PackedWeightFile::Open(dir / "absent", 1).status()));
  { std::ofstream(dir / "short") << "TSR"; }
  auto status = kernels::PackedWeightFile::Open(dir / "short", 1).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("truncated"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tessera::engine
