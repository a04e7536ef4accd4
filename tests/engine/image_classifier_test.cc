// The engine facade end to end: encoded image bytes -> decode -> preprocess -> forward -> top-k,
// against transformers (image processor + model) on every fixture checkpoint and image.
// Tolerances (issue 2): pixel tensor max |diff| <= 1e-2 (normalized units), logits max |diff|
// <= 1e-3 and the same top-1.
#include "engine/image_classifier.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>

#include "engine/vit/postprocess.h"
#include "engine/vit/safetensors_writer.h"
#include "engine/vit/vit_fixtures.h"
#include "gtest/gtest.h"
#include "testing/test_paths.h"

namespace tessera::engine {
namespace {

using testing::ArgMaxRows;
using testing::MaxAbsDiff;
using testing::ReadBytes;
using testing::ReadFloats;

constexpr double kPixelTolerance = 1e-2;
constexpr double kLogitTolerance = 1e-3;

std::unique_ptr<ImageClassifier> LoadOrDie(const std::filesystem::path& dir,
                                           const EngineOptions& options = {.num_threads = 2,
                                                                           .max_batch_size = 4}) {
  auto classifier = ImageClassifier::Load(dir, options);
  EXPECT_TRUE(classifier.ok()) << classifier.status();
  return classifier.ok() ? std::move(*classifier) : nullptr;
}

TEST(ImageClassifierTest, MatchesTransformersFromImageBytes) {
  auto fixtures = testing::LoadVitFixtures();
  ASSERT_TRUE(fixtures.has_value());
  double worst_pixels = 0, worst_logits = 0, worst_pipeline_logits = 0;
  int images = 0;
  int real_weight_images = 0;  // on trained checkpoints (fashion-vit, vendored in data/models)
  for (const auto& fixture : *fixtures) {
    SCOPED_TRACE(fixture.name);
    // A checkpoint the manifest names but that is gone means stale fixtures, not a pass.
    ASSERT_TRUE(std::filesystem::exists(fixture.dir))
        << fixture.dir << " is gone: regenerate with scripts/make-fixtures.sh";
    ASSERT_FALSE(fixture.image_cases.empty());
    auto classifier = LoadOrDie(fixture.dir);
    ASSERT_NE(classifier, nullptr);
    const int labels = fixture.num_labels;
    std::vector<std::vector<uint8_t>> encoded;
    std::vector<int> expected_top1;
    std::vector<std::vector<float>> expected_logits;
    for (const auto& c : fixture.image_cases) {
      SCOPED_TRACE(c.image.filename().string());
      encoded.push_back(ReadBytes(c.image));
      auto golden_pixels = ReadFloats(c.pixels);
      auto golden_logits = ReadFloats(c.logits);
      ASSERT_EQ(golden_pixels.size(), classifier->pixels_per_image());
      std::vector<float> pixels(classifier->pixels_per_image());
      ASSERT_TRUE(classifier->Preprocess(encoded.back(), pixels).ok());
      const double pixel_diff = MaxAbsDiff(pixels, golden_pixels);
      EXPECT_LE(pixel_diff, kPixelTolerance);
      // The engine alone, on transformers' own pixels.
      std::vector<float> logits(labels);
      ASSERT_TRUE(classifier->Forward(golden_pixels, 1, logits).ok());
      const double logit_diff = MaxAbsDiff(logits, golden_logits);
      EXPECT_LE(logit_diff, kLogitTolerance);
      // The whole pipeline: bytes -> our pixels -> logits.
      ASSERT_TRUE(classifier->Forward(pixels, 1, logits).ok());
      const double pipeline_diff = MaxAbsDiff(logits, golden_logits);
      EXPECT_LE(pipeline_diff, kLogitTolerance);
      EXPECT_EQ(ArgMaxRows(logits, labels), ArgMaxRows(golden_logits, labels));
      worst_pixels = std::max(worst_pixels, pixel_diff);
      worst_logits = std::max(worst_logits, logit_diff);
      worst_pipeline_logits = std::max(worst_pipeline_logits, pipeline_diff);
      expected_top1.push_back(ArgMaxRows(golden_logits, labels)[0]);
      expected_logits.push_back(std::move(golden_logits));
      ++images;
      real_weight_images += fixture.dtype == "pretrained";
    }
    // Classify: batches of up to max_batch_size, top-1 label and confidence as transformers.
    std::vector<std::span<const uint8_t>> spans(encoded.begin(), encoded.end());
    auto results = classifier->Classify(spans, 2);
    ASSERT_EQ(results.size(), encoded.size());
    for (size_t i = 0; i < results.size(); ++i) {
      ASSERT_TRUE(results[i].ok()) << results[i].status();
      ASSERT_EQ(results[i]->size(), std::min(2, labels));
      const Prediction& top = (*results[i])[0];
      EXPECT_EQ(top.class_index, expected_top1[i]);
      EXPECT_EQ(top.label, classifier->info().labels[expected_top1[i]]);
      std::vector<float> probabilities(labels);
      Softmax(expected_logits[i], probabilities);
      EXPECT_NEAR(top.confidence, probabilities[expected_top1[i]], 1e-3);
    }
  }
  // From the repository alone (no ../shared): 9 random-weight models x 5 images, and fashion-vit
  // on the 23 vendored and generated images Pillow decodes. ../shared only adds to these.
  EXPECT_GE(images, 68);
  EXPECT_GE(real_weight_images, 23);
  std::printf(
      "%d images: worst max |pixel diff| %.3g, |logit diff| on reference pixels %.3g, "
      "through the whole pipeline %.3g\n",
      images, worst_pixels, worst_logits, worst_pipeline_logits);
}

TEST(ImageClassifierTest, FashionLabelsMatchFileNames) {
  auto classifier = LoadOrDie(testing::VendoredDataDir() / "models" / "fashion-vit");
  ASSERT_NE(classifier, nullptr);
  // The vendored Fashion-MNIST images, plus ../shared's others when it is present.
  std::map<std::string, std::filesystem::path> files;
  auto shared = testing::SharedDataDir();
  for (const auto& dir : {testing::VendoredDataDir() / "images" / "fashion",
                          shared ? *shared / "images" / "fashion" : std::filesystem::path()}) {
    if (dir.empty()) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      files.emplace(entry.path().filename().string(), entry.path());
    }
  }
  ASSERT_GE(files.size(), 8u);
  std::vector<std::vector<uint8_t>> encoded;
  std::vector<std::string> names;
  for (const auto& [name, path] : files) {
    encoded.push_back(ReadBytes(path));
    names.push_back(name);
  }
  std::vector<std::span<const uint8_t>> spans(encoded.begin(), encoded.end());
  auto results = classifier->Classify(spans, 1);
  ASSERT_EQ(results.size(), names.size());
  size_t correct = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << names[i] << ": " << results[i].status();
    std::string slug = (*results[i])[0].label;
    std::transform(slug.begin(), slug.end(), slug.begin(), [](unsigned char c) {
      return std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '-';
    });
    correct += names[i].find(slug) != std::string::npos;
  }
  // The model's test-set accuracy is 87.5%; it gets all 8 vendored images right, and 19 of
  // ../shared's 20 (0023 is a sandal to it).
  EXPECT_GE(correct + 1, results.size()) << correct << " right of " << results.size();
}

TEST(ImageClassifierTest, OneBadImageDoesNotFailTheOthers) {
  auto fixture = testing::FindVitFixture("vit-odd-heads");
  ASSERT_TRUE(fixture.has_value());
  auto classifier = LoadOrDie(fixture->dir, {.num_threads = 1, .max_batch_size = 2});
  ASSERT_NE(classifier, nullptr);
  auto good = ReadBytes(fixture->image_cases[0].image);
  auto other = ReadBytes(fixture->image_cases[1].image);
  std::vector<uint8_t> garbage = {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'};
  std::vector<uint8_t> truncated(good.begin(), good.begin() + good.size() / 3);
  std::vector<std::span<const uint8_t>> images = {good, garbage, other, {}, truncated, good, other};
  auto results = classifier->Classify(images, 3);
  ASSERT_EQ(results.size(), images.size());
  for (size_t i : {0, 2, 5, 6}) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->size(), 3u);
  }
  for (size_t i : {1, 3, 4}) {
    EXPECT_EQ(results[i].status().code(), absl::StatusCode::kInvalidArgument) << i;
  }
  // Same image, same answer, whichever batch it landed in.
  EXPECT_EQ((*results[0])[0].class_index, (*results[5])[0].class_index);
  EXPECT_FLOAT_EQ((*results[2])[0].confidence, (*results[6])[0].confidence);
  // top_k must be positive.
  for (const auto& r : classifier->Classify(images, 0)) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(classifier->Classify({}, 1).empty());
}

TEST(ImageClassifierTest, TopKAndInfo) {
  auto fixture = testing::FindVitFixture("deit-teacher");
  ASSERT_TRUE(fixture.has_value());
  auto classifier = LoadOrDie(fixture->dir);
  ASSERT_NE(classifier, nullptr);
  const ModelInfo& info = classifier->info();
  EXPECT_EQ(info.architecture, "DeiTForImageClassificationWithTeacher");
  EXPECT_EQ(info.model_type, "deit");
  EXPECT_EQ(info.image_height, 48);
  EXPECT_EQ(info.image_width, 48);
  EXPECT_EQ(info.num_labels, 9);
  EXPECT_EQ(info.labels.size(), 9u);
  EXPECT_EQ(info.labels[3], "class-3-deit-teacher");
  EXPECT_EQ(info.hidden_size, 64);
  EXPECT_EQ(info.num_layers, 3);
  EXPECT_EQ(info.num_heads, 4);
  EXPECT_EQ(info.num_parameters, fixture->num_parameters);
  EXPECT_GE(info.weight_bytes, size_t(info.num_parameters) * 4 / 2);
  EXPECT_EQ(info.max_batch_size, 4);
  EXPECT_EQ(info.num_threads, 2);
  EXPECT_EQ(classifier->pixels_per_image(), 3u * 48 * 48);

  std::vector<float> logits = {0.1f, 2.f, -1.f, 0.5f, 3.f, 0.f, 0.f, 1.f, -2.f};
  auto top = classifier->TopK(logits, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].class_index, 4);
  EXPECT_EQ(top[0].label, info.labels[4]);
  EXPECT_EQ(top[1].class_index, 1);
  EXPECT_EQ(top[2].class_index, 7);
  EXPECT_GT(top[0].confidence, top[1].confidence);
  EXPECT_EQ(classifier->TopK(logits, 0).size(), 1u);    // clamped to 1
  EXPECT_EQ(classifier->TopK(logits, 100).size(), 9u);  // clamped to num_labels
  EXPECT_TRUE(classifier->TopK(std::span<const float>(logits).first(3), 1).empty());
}

TEST(ImageClassifierTest, PreprocessIsThreadSafeAndChecksItsBuffer) {
  auto fixture = testing::FindVitFixture("vit-224-p16");
  ASSERT_TRUE(fixture.has_value());
  auto classifier = LoadOrDie(fixture->dir);
  ASSERT_NE(classifier, nullptr);
  std::vector<float> small(10);
  auto bytes = ReadBytes(fixture->image_cases[0].image);
  EXPECT_EQ(classifier->Preprocess(bytes, small).code(), absl::StatusCode::kInvalidArgument);
  std::vector<float> expected(classifier->pixels_per_image());
  ASSERT_TRUE(classifier->Preprocess(bytes, expected).ok());
  std::vector<std::vector<float>> outputs(4, std::vector<float>(expected.size()));
  std::vector<std::thread> threads;
  for (auto& out : outputs) {
    threads.emplace_back([&] {
      for (int i = 0; i < 3; ++i) EXPECT_TRUE(classifier->Preprocess(bytes, out).ok());
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& out : outputs) EXPECT_EQ(out, expected);
}

TEST(ImageClassifierTest, DecodeLimitsApply) {
  auto fixture = testing::FindVitFixture("vit-odd-heads");
  ASSERT_TRUE(fixture.has_value());
  EngineOptions options;
  options.num_threads = 1;
  options.decode_limits.max_pixels = 100;
  auto classifier = LoadOrDie(fixture->dir, options);
  ASSERT_NE(classifier, nullptr);
  auto results = classifier->Classify({ReadBytes(fixture->image_cases[0].image)}, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kInvalidArgument) << results[0].status();
}

TEST(ImageClassifierTest, ValidateAndLoadRefuseMismatchedPreprocessing) {
  auto fixture = testing::FindVitFixture("vit-odd-heads");
  ASSERT_TRUE(fixture.has_value());
  EXPECT_TRUE(ImageClassifier::Validate(fixture->dir).ok());
  auto dir = testing::CopyCheckpoint(fixture->dir, "mismatched-preprocessor");
  auto json = testing::ReadJson(dir / "preprocessor_config.json");
  json["size"] = {{"height", 64}, {"width", 64}};
  testing::WriteJson(dir / "preprocessor_config.json", json);
  for (const absl::Status& status :
       {ImageClassifier::Validate(dir), ImageClassifier::Load(dir, {}).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find("preprocessor_config.json produces 64x64 images"),
              std::string::npos)
        << status;
    EXPECT_NE(status.message().find("image_size 40x40"), std::string::npos) << status;
  }
  std::filesystem::remove(dir / "preprocessor_config.json");
  EXPECT_FALSE(ImageClassifier::Validate(dir).ok());
  EXPECT_FALSE(ImageClassifier::Load(dir, {}).ok());
  // A broken weights file is caught by Validate without loading.
  auto broken = testing::CopyCheckpoint(fixture->dir, "validate-broken-weights");
  std::filesystem::resize_file(broken / "model.safetensors", 1000);
  auto status = ImageClassifier::Validate(broken);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

}  // namespace
}  // namespace tessera::engine
