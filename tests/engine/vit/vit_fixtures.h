// The golden fixtures of tests/fixtures/make_vit_fixtures.py (FixturesDir()/vit/manifest.json):
// checkpoints, images and transformers' pixel tensors and logits for them.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tessera::testing {

struct VitPixelCase {
  std::string name;
  int batch = 0;
  std::filesystem::path pixels, logits;
  double top1_margin = 0;
};

struct VitImageCase {
  std::filesystem::path image, pixels, logits;
  double top1_margin = 0;
};

struct VitFixtureModel {
  std::string name;
  std::filesystem::path dir;
  std::string architecture;
  std::string dtype;  // float32, float16, bfloat16, or "pretrained"
  int num_labels = 0;
  int image_height = 0;
  int image_width = 0;
  long long num_parameters = 0;
  std::vector<VitPixelCase> pixel_cases;
  std::vector<VitImageCase> image_cases;
};

// The manifest's models, or nullopt (with a test failure explaining how to make them) when the
// fixtures have not been generated.
std::optional<std::vector<VitFixtureModel>> LoadVitFixtures();
// A fixture model by name (fails the test when absent).
std::optional<VitFixtureModel> FindVitFixture(const std::string& name);

// Reads a little-endian float32 file.
std::vector<float> ReadFloats(const std::filesystem::path& path);
std::vector<uint8_t> ReadBytes(const std::filesystem::path& path);

// max |a - b| (infinity when the sizes differ).
double MaxAbsDiff(std::span<const float> a, std::span<const float> b);
// Index of the largest value of each row of `cols` values.
std::vector<int> ArgMaxRows(std::span<const float> values, int cols);

}  // namespace tessera::testing
