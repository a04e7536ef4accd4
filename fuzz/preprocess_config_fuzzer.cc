// preprocessor_config.json as the engine reads it from an uploaded checkpoint (FromFile), then a
// preprocessing run with every accepted config that is small enough to run quickly: a config
// FromFile accepts must be one Preprocess accepts.
#include <vector>

#include "engine/image/preprocess.h"
#include "fuzz_util.h"

namespace engine = tessera::engine;
using tessera::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = tessera::fuzz::WriteScratchFile("preprocessor_config.json",
                                                    tessera::fuzz::AsView(data, size));
  absl::StatusOr<engine::PreprocessConfig> config = engine::PreprocessConfig::FromFile(path);
  if (!config.ok()) {
    Require(absl::IsInvalidArgument(config.status()), "an error other than INVALID_ARGUMENT");
    return 0;
  }
  Require(config->Validate().ok(), "FromFile accepted a config Validate refuses");
  const int64_t out_h = config->output_height();
  const int64_t out_w = config->output_width();
  Require(out_h > 0 && out_w > 0, "an accepted config has an empty output");
  const bool small = config->resize_height <= 512 && config->resize_width <= 512 &&
                     config->shortest_edge <= 512 && out_h * out_w <= 512 * 512;
  if (!small) return 0;
  engine::RgbImage image{.width = 7, .height = 5};
  image.pixels.resize(3 * 7 * 5);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 37);
  std::vector<float> chw(static_cast<size_t>(3 * out_h * out_w));
  Require(engine::Preprocess(image, *config, chw).ok(), "Preprocess refused an accepted config");
  return 0;
}
