// The warm-up check of a reduced precision against fp32 (engine/precision_agreement.h): which
// images it uses (the artifact's calibration/ folder, else the sample images compiled into the
// binary), fashion-vit's int8 measured on them, and the floor's verdict and message.
#include "engine/precision_agreement.h"

#include <unistd.h>

#include <fstream>

#include "engine/kernels/precision.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/test_paths.h"

namespace tessera::engine {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path FashionVit() { return testing::VendoredDataDir() / "models" / "fashion-vit"; }

// fashion-vit's files in a fresh folder, to which a test adds a calibration/ folder.
class CalibrationFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("precision_agreement_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* file : {"config.json", "preprocessor_config.json", "model.safetensors"}) {
      fs::copy_file(FashionVit() / file, dir_ / file);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path Calibration() {
    fs::create_directories(dir_ / kCalibrationFolder);
    return dir_ / kCalibrationFolder;
  }
  fs::path dir_;
};

TEST(SampleImagesTest, EveryCompiledInImageDecodesForTheModel) {
  ASSERT_GE(SampleImages().size(), 12u);
  auto classifier = ImageClassifier::Load(FashionVit(), {});
  ASSERT_TRUE(classifier.ok()) << classifier.status();
  std::vector<float> pixels((*classifier)->pixels_per_image());
  for (const EmbeddedFile& file : SampleImages()) {
    // The very bytes of the vendored file.
    std::ifstream in(testing::VendoredDataDir() / "images" / file.name, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, std::string(file.bytes.begin(), file.bytes.end())) << file.name;
    EXPECT_TRUE((*classifier)->Preprocess(file.bytes, pixels).ok()) << file.name;
  }
}

TEST_F(CalibrationFolderTest, WithoutAFolderTheSampleImagesAreUsed) {
  auto set = LoadCalibrationSet(dir_);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->source, "Tessera's sample images");
  EXPECT_EQ(set->images.size(), SampleImages().size());
}

TEST_F(CalibrationFolderTest, TheArtifactsOwnImagesComeFirstInNameOrder) {
  const fs::path fashion = testing::VendoredDataDir() / "images" / "fashion";
  fs::copy_file(fashion / "0010-coat.png", Calibration() / "b.png");
  fs::copy_file(fashion / "0002-trouser.png", Calibration() / "a.png");
  fs::create_directories(Calibration() / "not-a-file");
  auto set = LoadCalibrationSet(dir_);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->source, "the model's calibration/ folder");
  EXPECT_EQ(set->names, (std::vector<std::string>{"a.png", "b.png"}));

  // More than the cap: the first kMaxCalibrationImages by name.
  for (int i = 0; i < kMaxCalibrationImages + 5; ++i) {
    fs::copy_file(fashion / "0012-sneaker.png", Calibration() / fmt::format("c{:03}.png", i));
  }
  set = LoadCalibrationSet(dir_);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->images.size(), size_t(kMaxCalibrationImages));
  EXPECT_EQ(set->names.front(), "a.png");
}

TEST_F(CalibrationFolderTest, AnEmptyFolderOrAnOversizedFileIsRefusedByName) {
  Calibration();
  auto set = LoadCalibrationSet(dir_);
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(set.status().message(), HasSubstr("calibration/ holds no images"));
  // A sparse file one byte over the limit: refused from its size, never read.
  fs::path huge = Calibration() / "huge.jpg";
  std::ofstream(huge).close();
  fs::resize_file(huge, kMaxCalibrationImageBytes + 1);
  set = LoadCalibrationSet(dir_);
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(set.status().message(), HasSubstr("huge.jpg"));
}

TEST_F(CalibrationFolderTest, Int8FashionVitAgreesWithFp32AndABadImageIsNamed) {
  const EngineOptions options{.max_batch_size = 8, .precision = "int8"};
  auto int8 = ImageClassifier::Load(dir_, options);
  ASSERT_TRUE(int8.ok()) << int8.status();
  auto set = LoadCalibrationSet(dir_);
  ASSERT_TRUE(set.ok()) << set.status();
  auto agreement = MeasureAgreement(**int8, dir_, options, *set);
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  std::printf("%s\n", DescribeAgreement(*agreement).c_str());
  EXPECT_EQ(agreement->precision, "int8");
  EXPECT_EQ(agreement->images, int(SampleImages().size()));
  EXPECT_GE(agreement->fraction(), 0.9);
  EXPECT_LT(agreement->max_confidence_difference, 0.1);
  EXPECT_TRUE(CheckAgreementFloor(*agreement, 0.9, "floor").ok());

  std::ofstream(Calibration() / "notes.txt") << "not an image";
  set = LoadCalibrationSet(dir_);
  ASSERT_TRUE(set.ok()) << set.status();
  agreement = MeasureAgreement(**int8, dir_, options, *set);
  EXPECT_EQ(agreement.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(agreement.status().message(), HasSubstr("calibration image notes.txt"));
}

TEST(AgreementFloorTest, BelowTheFloorFailsWithTheFigures) {
  const PrecisionAgreement a{.precision = "int8",
                             .source = "Tessera's sample images",
                             .images = 14,
                             .agreeing = 13,
                             .max_confidence_difference = 0.0123};
  EXPECT_TRUE(CheckAgreementFloor(a, 0.9, "x").ok());
  EXPECT_TRUE(CheckAgreementFloor(a, 13.0 / 14, "x").ok()) << "the floor itself passes";
  const absl::Status refused = CheckAgreementFloor(a, 0.95, "tessera.minPrecisionAgreement");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(),
              HasSubstr("int8 agrees with fp32 on the top-1 class of 13 of 14 calibration images "
                        "(92.9%, Tessera's sample images), top-1 confidence within 0.0123: below "
                        "the floor of 95.0% (tessera.minPrecisionAgreement)"));
  EXPECT_FALSE(CheckAgreementFloor({.precision = "int8"}, 0.0, "x").ok()) << "no images measured";
}

}  // namespace
}  // namespace tessera::engine
