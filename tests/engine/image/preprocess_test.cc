// Preprocessing: preprocessor_config.json parsing (good and bad), transformers' arithmetic on
// hand-checked cases, center-crop placement and padding, {shortest_edge} sizes, bad buffers,
// concurrent use. Golden comparisons against transformers are in golden_test.cc.
#include "engine/image/preprocess.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_images.h"

namespace tessera::engine {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

PreprocessConfig Parse(const json& j) {
  auto config = PreprocessConfig::FromJson(j);
  EXPECT_TRUE(config.ok()) << j.dump() << ": " << config.status();
  return config.ok() ? *config : PreprocessConfig();
}

std::string ParseError(const json& j) {
  auto config = PreprocessConfig::FromJson(j);
  EXPECT_FALSE(config.ok()) << j.dump() << " should be refused";
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

std::vector<float> RunPreprocess(const RgbImage& image, const PreprocessConfig& config) {
  std::vector<float> out(3 * config.output_height() * config.output_width());
  const absl::Status status = Preprocess(image, config, out);
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

TEST(PreprocessConfigTest, ViTDefaults) {
  const PreprocessConfig c = Parse(json::object());
  EXPECT_EQ(c.processor_type, ImageProcessorType::kVit);
  EXPECT_TRUE(c.do_resize);
  EXPECT_EQ(c.resize_height, 224);
  EXPECT_EQ(c.resize_width, 224);
  EXPECT_EQ(c.resample, ResampleFilter::kBilinear);
  EXPECT_FALSE(c.do_center_crop);
  EXPECT_TRUE(c.do_rescale);
  EXPECT_EQ(c.rescale_factor, 1.0 / 255);
  EXPECT_TRUE(c.do_normalize);
  EXPECT_EQ(c.image_mean[1], 0.5);
  EXPECT_EQ(c.image_std[2], 0.5);
  EXPECT_EQ(c.output_height(), 224);
  EXPECT_EQ(c.output_width(), 224);
}

TEST(PreprocessConfigTest, DeiTDefaultsAndLegacyIntSizes) {
  const PreprocessConfig d = Parse({{"image_processor_type", "DeiTImageProcessor"}});
  EXPECT_EQ(d.processor_type, ImageProcessorType::kDeit);
  EXPECT_EQ(d.resize_height, 256);
  EXPECT_EQ(d.resample, ResampleFilter::kBicubic);
  EXPECT_TRUE(d.do_center_crop);
  EXPECT_EQ(d.output_height(), 224);
  // facebook/deit-*: legacy key, ints meaning squares (transformers' default_to_square).
  const PreprocessConfig legacy = Parse({{"feature_extractor_type", "DeiTFeatureExtractor"},
                                         {"size", 256},
                                         {"crop_size", 224},
                                         {"resample", 3}});
  EXPECT_EQ(legacy.resize_height, 256);
  EXPECT_EQ(legacy.resize_width, 256);
  EXPECT_EQ(legacy.shortest_edge, 0);
  EXPECT_EQ(legacy.crop_height, 224);
  EXPECT_EQ(legacy.crop_width, 224);
}

TEST(PreprocessConfigTest, SizeForms) {
  const PreprocessConfig list = Parse({{"size", {96, 160}}});
  EXPECT_EQ(list.output_height(), 96);
  EXPECT_EQ(list.output_width(), 160);
  const PreprocessConfig shortest = Parse({{"image_processor_type", "DeiTImageProcessor"},
                                           {"size", {{"shortest_edge", 256}}},
                                           {"crop_size", {{"height", 200}, {"width", 220}}}});
  EXPECT_EQ(shortest.shortest_edge, 256);
  EXPECT_EQ(shortest.output_height(), 200);
  EXPECT_EQ(shortest.output_width(), 220);
}

TEST(PreprocessConfigTest, TypeNamesAndIgnoredKeys) {
  // ViTImageProcessor has no crop step: crop keys are ignored, as transformers does.
  const PreprocessConfig vit = Parse({{"image_processor_type", "ViTImageProcessor"},
                                      {"do_center_crop", true},
                                      {"crop_size", 100},
                                      {"processor_class", "whatever"}});
  EXPECT_FALSE(vit.do_center_crop);
  EXPECT_EQ(vit.output_height(), 224);
  EXPECT_EQ(Parse({{"image_processor_type", "ViTImageProcessorFast"}}).processor_type,
            ImageProcessorType::kVit);
  EXPECT_EQ(Parse({{"feature_extractor_type", "ViTFeatureExtractor"}}).processor_type,
            ImageProcessorType::kVit);
  // No type, crop keys: DeiT-style.
  EXPECT_EQ(Parse({{"crop_size", 64}}).processor_type, ImageProcessorType::kDeit);
  // "resample": null is transformers' resize() default, bilinear.
  EXPECT_EQ(Parse({{"image_processor_type", "DeiTImageProcessor"}, {"resample", nullptr}}).resample,
            ResampleFilter::kBilinear);
  const PreprocessConfig scalar = Parse({{"image_mean", 0.25}, {"image_std", 2}});
  EXPECT_EQ(scalar.image_mean[2], 0.25);
  EXPECT_EQ(scalar.image_std[0], 2.0);
}

TEST(PreprocessConfigTest, RefusesBadValues) {
  EXPECT_THAT(ParseError(json::array()), HasSubstr("JSON object"));
  EXPECT_THAT(ParseError({{"do_resize", "yes"}}), HasSubstr("\"do_resize\": must be true or false"));
  EXPECT_THAT(ParseError({{"size", -3}}), HasSubstr("\"size\""));
  EXPECT_THAT(ParseError({{"size", 0}}), HasSubstr("between 1 and"));
  EXPECT_THAT(ParseError({{"size", 224.5}}), HasSubstr("integer"));
  EXPECT_THAT(ParseError({{"size", {224}}}), HasSubstr("[height, width]"));
  EXPECT_THAT(ParseError({{"size", {{"height", 224}}}}), HasSubstr("unsupported keys {height}"));
  EXPECT_THAT(ParseError({{"size", {{"longest_edge", 224}}}}), HasSubstr("longest_edge"));
  EXPECT_THAT(ParseError({{"size", {{"height", "224"}, {"width", 224}}}}),
              HasSubstr("size.height"));
  EXPECT_THAT(ParseError({{"resample", 7}}), HasSubstr("unsupported filter 7"));
  EXPECT_THAT(ParseError({{"resample", "bicubic"}}), HasSubstr("PIL filter number"));
  EXPECT_THAT(ParseError({{"image_std", {0.5, 0.0, 0.5}}}), HasSubstr("non-zero"));
  EXPECT_THAT(ParseError({{"image_mean", {0.5, 0.5}}}), HasSubstr("3 numbers"));
  EXPECT_THAT(ParseError({{"image_mean", {0.5, "a", 0.5}}}), HasSubstr("element 1"));
  EXPECT_THAT(ParseError({{"rescale_factor", "1/255"}}), HasSubstr("rescale_factor"));
  EXPECT_THAT(ParseError({{"image_processor_type", "CLIPImageProcessor"}}),
              HasSubstr("unsupported image processor \"CLIPImageProcessor\""));
  EXPECT_THAT(ParseError({{"image_processor_type", 3}}), HasSubstr("must be a string"));
  // The output size would depend on each image.
  EXPECT_THAT(ParseError({{"do_resize", false}}), HasSubstr("fixed input size"));
  EXPECT_THAT(ParseError({{"size", {{"shortest_edge", 256}}}}), HasSubstr("fixed input size"));
  EXPECT_THAT(ParseError({{"image_processor_type", "DeiTImageProcessor"},
                          {"crop_size", {{"height", 10}, {"width", 100000}}}}),
              HasSubstr("crop_size.width"));
}

TEST(PreprocessConfigTest, FromFileNamesTheFile) {
  const auto dir = std::filesystem::temp_directory_path() / "tessera_preprocess_config_test";
  std::filesystem::create_directories(dir);
  const auto good = dir / "good.json";
  std::ofstream(good) << R"({"size": {"height": 32, "width": 48}, "resample": 3})";
  const auto config = PreprocessConfig::FromFile(good);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->output_width(), 48);
  EXPECT_EQ(config->resample, ResampleFilter::kBicubic);

  const auto bad = dir / "bad.json";
  std::ofstream(bad) << R"({"size": )";
  auto status = PreprocessConfig::FromFile(bad).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("bad.json: not valid JSON"));

  const auto wrong = dir / "wrong.json";
  std::ofstream(wrong) << R"({"do_normalize": 1})";
  status = PreprocessConfig::FromFile(wrong).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("wrong.json: \"do_normalize\""));

  status = PreprocessConfig::FromFile(dir / "missing.json").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("missing.json: cannot open"));
  std::filesystem::remove_all(dir);
}

// Without a resize: rescale in float64 then float32, normalize in float32, channels first.
TEST(PreprocessTest, RescaleNormalizeAndLayout) {
  const RgbImage image{.width = 2, .height = 1, .pixels = {0, 127, 255, 255, 1, 64}};
  const PreprocessConfig config = Parse({{"size", {1, 2}}, {"image_mean", {0.5, 0.25, 0.1}},
                                         {"image_std", {0.5, 0.2, 0.3}}});
  const std::vector<float> out = RunPreprocess(image, config);
  ASSERT_EQ(out.size(), 6u);
  const auto expect = [](int v, float mean, float std_dev) {
    return (static_cast<float>(v * (1.0 / 255)) - mean) / std_dev;
  };
  // CHW: R of both pixels, then G, then B.
  EXPECT_EQ(out[0], -1.0f);
  EXPECT_EQ(out[1], 1.0f);
  EXPECT_EQ(out[2], expect(127, 0.25f, 0.2f));
  EXPECT_EQ(out[3], expect(1, 0.25f, 0.2f));
  EXPECT_EQ(out[4], expect(255, 0.1f, 0.3f));
  EXPECT_EQ(out[5], expect(64, 0.1f, 0.3f));

  const PreprocessConfig raw = Parse({{"size", {1, 2}}, {"do_rescale", false},
                                      {"do_normalize", false}});
  EXPECT_THAT(RunPreprocess(image, raw), ::testing::ElementsAre(0, 255, 127, 1, 255, 64));
}

// transformers' center_crop: offset floor((size - crop) / 2), zero padding (before rescale).
TEST(PreprocessTest, CenterCropPlacementAndPadding) {
  RgbImage image{.width = 3, .height = 2, .pixels = {}};
  for (int i = 0; i < 6; ++i) {
    for (int c = 0; c < 3; ++c) image.pixels.push_back(static_cast<uint8_t>(10 * (i + 1) + c));
  }
  const json base = {{"image_processor_type", "DeiTImageProcessor"}, {"do_resize", false},
                     {"do_rescale", false}, {"do_normalize", false}};
  // Larger than the image both ways: image at rows 1-2 (floor(-2/2) = -1), columns 1-3.
  json pad = base;
  pad["crop_size"] = {{"height", 4}, {"width", 5}};
  std::vector<float> out = RunPreprocess(image, Parse(pad));
  const std::vector<float> red = {0, 0,  0,  0,  0,   //
                                  0, 10, 20, 30, 0,   //
                                  0, 40, 50, 60, 0,   //
                                  0, 0,  0,  0,  0};
  EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 20), red);
  EXPECT_EQ(out[20 + 6], 11);  // green plane, pixel (1, 1)
  // Odd padding: 2 rows into 5 puts the image at rows 2-3 (transformers: ceil(3 / 2) = 2).
  json odd = base;
  odd["crop_size"] = {{"height", 5}, {"width", 1}};
  out = RunPreprocess(image, Parse(odd));
  EXPECT_THAT(std::vector<float>(out.begin(), out.begin() + 5),
              ::testing::ElementsAre(0, 0, 20, 50, 0));
  // Smaller one way, larger the other.
  json mixed = base;
  mixed["crop_size"] = {{"height", 1}, {"width", 4}};
  out = RunPreprocess(image, Parse(mixed));
  EXPECT_THAT(std::vector<float>(out.begin(), out.begin() + 4),
              ::testing::ElementsAre(0, 10, 20, 30));
  // Padding is normalized like a zero pixel.
  json normalized = pad;
  normalized["do_rescale"] = true;
  normalized["do_normalize"] = true;
  out = RunPreprocess(image, Parse(normalized));
  EXPECT_EQ(out[0], -1.0f);
}

// {shortest_edge}: the other side is int(s * long / short), then the crop is centred.
TEST(PreprocessTest, ShortestEdgeResizeThenCrop) {
  for (auto [w, h] : {std::pair{64, 48}, {48, 64}, {50, 50}, {7, 90}}) {
    const RgbImage image = testing::Pattern(w, h, 5);
    const PreprocessConfig config = Parse({{"image_processor_type", "DeiTImageProcessor"},
                                           {"size", {{"shortest_edge", 32}}},
                                           {"crop_size", 28},
                                           {"do_rescale", false},
                                           {"do_normalize", false}});
    const int short_side = std::min(w, h), long_side = std::max(w, h);
    const int new_long = static_cast<int>(32.0 * long_side / short_side);
    const int rw = w <= h ? 32 : new_long, rh = w <= h ? new_long : 32;
    const auto resized = ResizeRgb(image, rw, rh, ResampleFilter::kBicubic);
    ASSERT_TRUE(resized.ok());
    const int top = (rh - 28) / 2, left = (rw - 28) / 2;
    const std::vector<float> out = RunPreprocess(image, config);
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < 28; ++y) {
        for (int x = 0; x < 28; ++x) {
          ASSERT_EQ(out[(c * 28 + y) * 28 + x],
                    resized->pixels[((top + y) * rw + left + x) * 3 + c])
              << w << "x" << h;
        }
      }
    }
  }
}

TEST(PreprocessTest, RefusesBadBuffersAndImages) {
  const PreprocessConfig config = Parse({{"size", 8}});
  const RgbImage image = testing::Pattern(5, 5, 6);
  std::vector<float> out(3 * 8 * 8 - 1);
  auto status = Preprocess(image, config, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("191 floats"));
  out.resize(3 * 8 * 8);
  EXPECT_EQ(Preprocess(RgbImage{}, config, out).code(), absl::StatusCode::kInvalidArgument);
  RgbImage inconsistent = image;
  inconsistent.width = 6;
  EXPECT_EQ(Preprocess(inconsistent, config, out).code(), absl::StatusCode::kInvalidArgument);
  PreprocessConfig invalid = config;
  invalid.image_std[1] = 0;
  EXPECT_EQ(Preprocess(image, invalid, out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Preprocess(image, config, out).ok());
}

// One config, many threads: same results as one thread.
TEST(PreprocessTest, ConcurrentUseOfOneConfig) {
  const PreprocessConfig config = Parse({{"image_processor_type", "DeiTImageProcessor"},
                                         {"size", 72}, {"crop_size", 64}});
  std::vector<RgbImage> images;
  std::vector<std::vector<float>> expected;
  for (int i = 0; i < 8; ++i) {
    images.push_back(testing::Pattern(50 + 13 * i, 90 - 7 * i, i));
    expected.push_back(RunPreprocess(images.back(), config));
  }
  for (int threads : {2, 4, 8}) {
    std::vector<std::thread> workers;
    std::vector<int> mismatches(threads, 0);
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::vector<float> out(3 * 64 * 64);
        for (int round = 0; round < 20; ++round) {
          const size_t i = (t + round) % images.size();
          if (!Preprocess(images[i], config, out).ok() || out != expected[i]) ++mismatches[t];
        }
      });
    }
    for (auto& w : workers) w.join();
    for (int t = 0; t < threads; ++t) EXPECT_EQ(mismatches[t], 0) << threads << " threads";
  }
}

// Benchmark mode of the check above: 640x480 -> 224x224 bilinear (ViT default) and the DeiT
// shortest-edge-256 + crop-224 bicubic path. Prints ms per image (noisy on shared machines).
TEST(PreprocessTest, Timing640x480) {
  const RgbImage image = testing::Pattern(640, 480, 7);
  for (const json& j : {json::object(),
                        json{{"image_processor_type", "DeiTImageProcessor"},
                             {"size", {{"shortest_edge", 256}}}}}) {
    const PreprocessConfig config = Parse(j);
    std::vector<float> out(3 * config.output_height() * config.output_width());
    ASSERT_TRUE(Preprocess(image, config, out).ok());
    const std::vector<float> first = out;
    constexpr int kIterations = 50;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kIterations; ++i) ASSERT_TRUE(Preprocess(image, config, out).ok());
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start).count() / kIterations;
    EXPECT_EQ(out, first);
    std::cout << "preprocess 640x480 " << j.dump() << ": " << ms << " ms/image\n";
  }
}

}  // namespace
}  // namespace tessera::engine
