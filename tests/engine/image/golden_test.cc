// Fidelity against the reference: Pillow's decode and transformers' preprocessing, through the
// fixtures made by tests/fixtures/make_image_fixtures.py (a failure when they are absent). Prints
// the largest differences per format and per config.
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

#include "engine/image/decode.h"
#include "engine/image/preprocess.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "test_images.h"

namespace tessera::engine {
namespace {

using testing::LoadImageFixtures;
using testing::ReadFile;

std::string Extension(const std::string& name) { return name.substr(name.rfind('.') + 1); }

// Decoded RGB8 bytes equal Pillow's Image.open(f).convert("RGB") for every fixture image, and
// images Pillow refuses (12-bit JPEG) are refused.
TEST(ImageGoldenTest, DecodeMatchesPillow) {
  const auto fixtures = LoadImageFixtures();
  ASSERT_TRUE(fixtures.has_value()) << "image fixtures not generated (scripts/make-fixtures.sh)";
  struct Stat {
    int images = 0;
    int max_diff = 0;
    int64_t differing_bytes = 0;
  };
  std::map<std::string, Stat> per_format;
  int refused = 0;
  for (const auto& entry : fixtures->index["images"]) {
    const std::string name = entry["name"];
    const auto bytes = ReadFile(fixtures->root / entry["file"].get<std::string>());
    const auto decoded = DecodeImage(bytes);
    if (entry.contains("expect_error")) {
      ASSERT_FALSE(decoded.ok()) << name << ": Pillow refuses it (" << entry["expect_error"]
                                 << ") but it decoded";
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << name;
      std::cout << "refused as Pillow does: " << name << ": " << decoded.status().message() << "\n";
      ++refused;
      continue;
    }
    ASSERT_TRUE(decoded.ok()) << name << ": " << decoded.status();
    ASSERT_EQ(decoded->width, entry["width"].get<int>()) << name;
    ASSERT_EQ(decoded->height, entry["height"].get<int>()) << name;
    const auto expected = ReadFile(fixtures->root / entry["decode"].get<std::string>());
    ASSERT_EQ(decoded->pixels.size(), expected.size()) << name;
    Stat& stat = per_format[Extension(name)];
    ++stat.images;
    int max_diff = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      const int diff = std::abs(int{decoded->pixels[i]} - int{expected[i]});
      max_diff = std::max(max_diff, diff);
      stat.differing_bytes += diff != 0;
    }
    stat.max_diff = std::max(stat.max_diff, max_diff);
    EXPECT_EQ(max_diff, 0) << name << " (Pillow mode " << entry["pil_mode"]
                           << ") differs from Pillow's convert(\"RGB\")";
  }
  for (const auto& [format, stat] : per_format) {
    std::cout << fmt::format("decode {:5}: {:3} images, max |diff| {} (uint8), {} bytes differ\n",
                             format, stat.images, stat.max_diff, stat.differing_bytes);
  }
  // JPEG, PNG and WebP, real files among them (data/images/formats is vendored), and the
  // 12-bit JPEG Pillow refuses.
  EXPECT_GE(per_format.size(), 3u);
  std::map<std::string, int> per_group;
  for (const auto& entry : fixtures->index["images"]) ++per_group[entry["group"].get<std::string>()];
  for (const char* group : {"photos", "formats", "fashion", "generated"}) {
    EXPECT_GT(per_group[group], 0) << group;
  }
  EXPECT_GE(refused, 1);
}

// transformers' pixel_values for every (image, config) case: max |diff| <= 1e-2.
TEST(ImageGoldenTest, PreprocessMatchesTransformers) {
  const auto fixtures = LoadImageFixtures();
  ASSERT_TRUE(fixtures.has_value()) << "image fixtures not generated (scripts/make-fixtures.sh)";
  std::map<std::string, PreprocessConfig> configs;
  for (const auto& c : fixtures->index["configs"]) {
    auto config = PreprocessConfig::FromFile(fixtures->root / c["file"].get<std::string>());
    ASSERT_TRUE(config.ok()) << config.status();
    configs.emplace(c["name"].get<std::string>(), *config);
  }
  struct Stat {
    int cases = 0;
    int exact = 0;
    double max_diff = 0;
  };
  std::map<std::string, Stat> per_config, per_format;
  std::map<std::string, RgbImage> decoded;
  int errors = 0;
  for (const auto& c : fixtures->index["cases"]) {
    const std::string image_name = c["image"];
    const std::string config_name = c["config"];
    const PreprocessConfig& config = configs.at(config_name);
    const std::string label = image_name + " x " + config_name;
    if (!decoded.contains(image_name)) {
      const auto bytes = ReadFile(fixtures->root / "images" / image_name);
      auto image = DecodeImage(bytes);
      if (c.contains("expect_error")) {
        EXPECT_FALSE(image.ok()) << label << " must be refused";
        ++errors;
        continue;
      }
      ASSERT_TRUE(image.ok()) << label << ": " << image.status();
      decoded.emplace(image_name, *std::move(image));
    }
    const auto& shape = c["shape"];
    ASSERT_EQ(shape[1].get<int>(), config.output_height()) << label;
    ASSERT_EQ(shape[2].get<int>(), config.output_width()) << label;
    std::vector<float> out(3 * config.output_height() * config.output_width());
    ASSERT_TRUE(Preprocess(decoded.at(image_name), config, out).ok()) << label;
    const auto golden_bytes = ReadFile(fixtures->root / c["output"].get<std::string>());
    ASSERT_EQ(golden_bytes.size(), out.size() * sizeof(float)) << label;
    std::vector<float> golden(out.size());
    std::memcpy(golden.data(), golden_bytes.data(), golden_bytes.size());
    double max_diff = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(out[i] - golden[i])));
    }
    EXPECT_LE(max_diff, 1e-2) << label;
    for (Stat* stat : {&per_config[config_name], &per_format[Extension(image_name)]}) {
      ++stat->cases;
      stat->exact += max_diff == 0;
      stat->max_diff = std::max(stat->max_diff, max_diff);
    }
  }
  for (const auto& [name, stat] : per_config) {
    std::cout << fmt::format("preprocess {:38}: {:3} cases, {:3} bit-exact, max |diff| {:.3g}\n",
                             name, stat.cases, stat.exact, stat.max_diff);
  }
  for (const auto& [name, stat] : per_format) {
    std::cout << fmt::format("preprocess format {:5}: {:3} cases, {:3} bit-exact, max |diff| {:.3g}\n",
                             name, stat.cases, stat.exact, stat.max_diff);
  }
  // Every config ran on real images: data/images alone gives each one cases (../shared adds).
  EXPECT_EQ(per_config.size(), fixtures->index["configs"].size());
  for (const auto& [name, stat] : per_config) EXPECT_GE(stat.cases, 5) << name;
  (void)errors;
}

}  // namespace
}  // namespace tessera::engine
