// config.json as the engine reads it from an uploaded checkpoint (LoadViTConfig): errors are
// INVALID_ARGUMENT, and an accepted config is internally consistent (config.h's contract).
#include "engine/vit/config.h"
#include "fuzz_util.h"

namespace engine = tessera::engine;
using tessera::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path =
      tessera::fuzz::WriteScratchFile("config.json", tessera::fuzz::AsView(data, size));
  absl::StatusOr<engine::ViTConfig> config = engine::LoadViTConfig(path);
  if (!config.ok()) {
    Require(absl::IsInvalidArgument(config.status()), "an error other than INVALID_ARGUMENT");
    return 0;
  }
  const engine::ViTConfig& c = *config;
  Require(c.hidden_size > 0 && c.num_attention_heads > 0 && c.num_hidden_layers > 0 &&
              c.intermediate_size > 0 && c.num_channels > 0,
          "a non-positive size was accepted");
  Require(c.hidden_size % c.num_attention_heads == 0, "hidden_size not divisible by the heads");
  Require(c.patch_height > 0 && c.patch_width > 0 && c.image_height >= c.patch_height &&
              c.image_width >= c.patch_width,
          "the image is smaller than one patch");
  Require(c.num_patches() > 0 && c.num_tokens() > c.num_patches(), "no patches");
  Require(c.num_labels() > 0, "no labels");
  for (const std::string& label : c.labels) (void)label.size();
  (void)engine::ArchitectureName(c.architecture);
  (void)engine::ActivationName(c.hidden_act);
  return 0;
}
