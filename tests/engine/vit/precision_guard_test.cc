// The precision guard: fashion-vit (a real trained ViT, data/models/fashion-vit) over the whole
// Fashion-MNIST test set (10,000 images, Debian's dataset-fashion-mnist unpacked by
// tests/fixtures/make_fashion_mnist.py) in fp32, bf16 and int8. bf16 must pick the same top-1
// class as fp32 for >= 99.5% of the images, int8 for >= 99%. The fp32 accuracy against the labels
// must match what training measured with transformers (accuracy.json), which also proves the
// preprocessing. On a host that cannot run a precision natively, the guard checks that loading it
// is refused. Prints the agreement, both accuracies and the largest top-1 confidence difference.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <vector>

#include "engine/image/preprocess.h"
#include "engine/kernels/precision.h"
#include "engine/kernels/quantize.h"
#include "engine/vit/vit_model.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/test_paths.h"

namespace tessera::engine {
namespace {

constexpr int kImages = 10000;
constexpr int kSide = 28;
constexpr int kBatch = 100;
constexpr double kMinBf16Agreement = 0.995;
constexpr double kMinInt8Agreement = 0.99;

std::vector<uint8_t> ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path << " is missing: run scripts/make-fixtures.sh";
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

struct TopOne {
  int index = 0;
  float confidence = 0;
};

TopOne SoftmaxTopOne(const float* logits, int n) {
  const float* best = std::max_element(logits, logits + n);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(double{logits[i]} - *best);
  return {static_cast<int>(best - logits), static_cast<float>(1.0 / sum)};
}

// Top-1 of every test image under `precision`.
std::vector<TopOne> Classify(const std::filesystem::path& model_dir,
                             const std::vector<float>& pixels, size_t per_image,
                             kernels::Precision precision) {
  auto model = VitModel::Load(model_dir, {.max_batch_size = kBatch, .precision = precision});
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  const int labels = (*model)->config().num_labels();
  std::vector<float> logits(size_t(kBatch) * labels);
  std::vector<TopOne> out;
  for (int first = 0; first < kImages; first += kBatch) {
    const absl::Status s = (*model)->Forward(
        std::span<const float>(pixels).subspan(first * per_image, kBatch * per_image), kBatch,
        logits);
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return {};
    for (int b = 0; b < kBatch; ++b) out.push_back(SoftmaxTopOne(&logits[b * labels], labels));
  }
  return out;
}

TEST(PrecisionGuardTest, FashionVitOnTheWholeTestSet) {
  const std::filesystem::path model_dir = testing::VendoredDataDir() / "models" / "fashion-vit";
  const std::filesystem::path data = testing::FixturesDir() / "fashion-mnist";
  const std::vector<uint8_t> images = ReadAll(data / "t10k-images-idx3-ubyte");
  const std::vector<uint8_t> labels = ReadAll(data / "t10k-labels-idx1-ubyte");
  ASSERT_EQ(images.size(), 16u + size_t(kImages) * kSide * kSide);
  ASSERT_EQ(labels.size(), 8u + size_t(kImages));

  auto config = PreprocessConfig::FromFile(model_dir / "preprocessor_config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  const size_t per_image = size_t(3) * config->output_height() * config->output_width();
  std::vector<float> pixels(per_image * kImages);
  RgbImage image{.width = kSide, .height = kSide, .pixels = std::vector<uint8_t>(3 * kSide * kSide)};
  for (int i = 0; i < kImages; ++i) {
    const uint8_t* gray = images.data() + 16 + size_t(i) * kSide * kSide;
    // Grayscale to RGB as Pillow's convert("RGB") does: the value in every channel.
    for (int p = 0; p < kSide * kSide; ++p) std::fill_n(&image.pixels[3 * p], 3, gray[p]);
    ASSERT_TRUE(Preprocess(image, *config, std::span<float>(pixels).subspan(i * per_image,
                                                                              per_image))
                    .ok());
  }

  const std::vector<TopOne> fp32 = Classify(model_dir, pixels, per_image, kernels::Precision::kF32);
  ASSERT_EQ(fp32.size(), size_t(kImages));
  int fp32_correct = 0;
  for (int i = 0; i < kImages; ++i) fp32_correct += fp32[i].index == labels[8 + i];
  const double fp32_accuracy = double(fp32_correct) / kImages;
  std::ifstream accuracy_file(model_dir / "accuracy.json");
  const double trained = nlohmann::json::parse(accuracy_file)["top1"].get<double>();
  // Training's figure came from transformers on the same images: the engine's fp32 differs from
  // it only by float rounding, which flips a handful of near-ties at most.
  EXPECT_NEAR(fp32_accuracy, trained, 0.002) << "fp32 top-1 accuracy";
  std::printf("fp32: top-1 accuracy %.4f (training measured %.4f)\n", fp32_accuracy, trained);

  for (auto [precision, floor] : {std::pair{kernels::Precision::kBF16, kMinBf16Agreement},
                                  std::pair{kernels::Precision::kInt8, kMinInt8Agreement}}) {
    const std::string name(kernels::PrecisionName(precision));
    SCOPED_TRACE(name);
    if (absl::Status runs = kernels::CheckHostRuns(precision); !runs.ok()) {
      auto refused = VitModel::Load(model_dir, {.precision = precision});
      EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
      std::printf("%s: refused on this host (%s): %s\n", name.c_str(),
                  kernels::HostIsaName().c_str(), std::string(refused.status().message()).c_str());
      continue;
    }
    const std::vector<TopOne> reduced = Classify(model_dir, pixels, per_image, precision);
    ASSERT_EQ(reduced.size(), size_t(kImages));
    int agree = 0, correct = 0;
    double max_confidence_difference = 0;
    for (int i = 0; i < kImages; ++i) {
      agree += reduced[i].index == fp32[i].index;
      correct += reduced[i].index == labels[8 + i];
      if (reduced[i].index == fp32[i].index) {
        max_confidence_difference =
            std::max(max_confidence_difference,
                     std::fabs(double{reduced[i].confidence} - fp32[i].confidence));
      }
    }
    const double agreement = double(agree) / kImages;
    std::printf(
        "%s on %s%s: top-1 agreement with fp32 %.4f (%d of %d differ), top-1 accuracy %.4f, max "
        "top-1 confidence difference %.4f\n",
        name.c_str(), kernels::HostIsaName().c_str(),
        precision == kernels::Precision::kInt8
            ? (kernels::Int8WeightLimit() == 127 ? " (8-bit weights)" : " (7-bit weights)")
            : "",
        agreement, kImages - agree, kImages, double(correct) / kImages, max_confidence_difference);
    EXPECT_GE(agreement, floor);
    ::testing::Test::RecordProperty(name + "_agreement", std::to_string(agreement));
  }
}

}  // namespace
}  // namespace tessera::engine
