#include "engine/vit/checkpoint.h"

#include <system_error>

#include "common/status_macros.h"
#include "engine/vit/safetensors.h"
#include "engine/vit/weights.h"
#include "fmt/format.h"

namespace tessera::engine {

absl::StatusOr<ViTConfig> ValidateCheckpointDir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(fmt::format("{}: not a checkpoint folder", dir.string()));
  }
  const std::filesystem::path config_path = dir / kConfigFile;
  ASSIGN_OR_RETURN(ViTConfig config, LoadViTConfig(config_path));
  const std::filesystem::path weights_path = dir / kWeightsFile;
  ASSIGN_OR_RETURN(SafetensorsHeader header, ReadSafetensorsHeader(weights_path));
  RETURN_IF_ERROR(CheckTensors(header, config, weights_path.string(), config_path.string()));
  return config;
}

}  // namespace tessera::engine
