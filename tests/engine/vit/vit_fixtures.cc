#include "engine/vit/vit_fixtures.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/test_paths.h"

namespace tessera::testing {

std::optional<std::vector<VitFixtureModel>> LoadVitFixtures() {
  const std::filesystem::path root = FixturesDir() / "vit";
  std::ifstream in(root / "manifest.json");
  if (!in) {
    ADD_FAILURE() << (root / "manifest.json")
                  << " is missing: generate the fixtures with scripts/make-fixtures.sh "
                  << FixturesDir();
    return std::nullopt;
  }
  nlohmann::json manifest = nlohmann::json::parse(in);
  std::vector<VitFixtureModel> models;
  for (const auto& m : manifest["models"]) {
    VitFixtureModel model;
    model.name = m.at("name").get<std::string>();
    model.dir = root / m.at("dir").get<std::string>();  // absolute dirs stay as they are
    model.architecture = m.at("architecture").get<std::string>();
    model.dtype = m.at("dtype").get<std::string>();
    model.num_labels = m.at("num_labels").get<int>();
    model.image_height = m.at("image_height").get<int>();
    model.image_width = m.at("image_width").get<int>();
    model.num_parameters = m.at("num_parameters").get<long long>();
    for (const auto& c : m.at("pixel_cases")) {
      VitPixelCase pc;
      pc.name = c.at("name").get<std::string>();
      pc.batch = c.at("batch").get<int>();
      pc.pixels = root / c.at("pixels").get<std::string>();
      pc.logits = root / c.at("logits").get<std::string>();
      pc.top1_margin = c.at("top1_margin").get<double>();
      model.pixel_cases.push_back(std::move(pc));
    }
    for (const auto& c : m.at("image_cases")) {
      VitImageCase ic;
      ic.image = root / c.at("image").get<std::string>();
      ic.pixels = root / c.at("pixels").get<std::string>();
      ic.logits = root / c.at("logits").get<std::string>();
      ic.top1_margin = c.at("top1_margin").get<double>();
      model.image_cases.push_back(std::move(ic));
    }
    models.push_back(std::move(model));
  }
  return models;
}

std::optional<VitFixtureModel> FindVitFixture(const std::string& name) {
  auto models = LoadVitFixtures();
  if (!models) return std::nullopt;
  for (auto& m : *models) {
    if (m.name == name) return m;
  }
  ADD_FAILURE() << "no fixture model named " << name;
  return std::nullopt;
}

std::vector<uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

std::vector<float> ReadFloats(const std::filesystem::path& path) {
  std::vector<uint8_t> bytes = ReadBytes(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

double MaxAbsDiff(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double max = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = std::fabs(double{a[i]} - double{b[i]});
    if (!(d <= max)) max = d;  // NaN propagates as a failure
  }
  return max;
}

std::vector<int> ArgMaxRows(std::span<const float> values, int cols) {
  std::vector<int> out;
  for (size_t row = 0; row + cols <= values.size(); row += cols) {
    int best = 0;
    for (int i = 1; i < cols; ++i) {
      if (values[row + i] > values[row + best]) best = i;
    }
    out.push_back(best);
  }
  return out;
}

}  // namespace tessera::testing
