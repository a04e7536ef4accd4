// The engine-backed registry::ArtifactValidator: what `tessera serve` gives ModelService to refuse,
// at upload time, a checkpoint the `vit` runtime could not serve. It runs the engine's own checks
// (engine::ImageClassifier::Validate: config.json, preprocessor_config.json, the safetensors
// header against the config) without reading the weights, so it is cheap (milliseconds).
//
// Lives in cli (the only layer that may see both registry and engine). Stateless and thread-safe:
// ModelService calls Validate from operation worker threads, concurrently for different uploads.
#pragma once

#include <filesystem>
#include <optional>

#include "absl/status/status.h"
#include "registry/artifact_validator.h"

namespace tessera::cli {

class EngineArtifactValidator final : public registry::ArtifactValidator {
 public:
  // OK, or INVALID_ARGUMENT "the artifact is not a servable ViT checkpoint: <what is wrong>",
  // with file names relative to the artifact ("model.safetensors: ...", not the store's path).
  absl::Status Validate(const std::filesystem::path& dir) override;
  // Decides once config.json and preprocessor_config.json are complete and model.safetensors'
  // header has arrived: all that Validate reads.
  std::optional<absl::Status> ValidateEarly(const std::filesystem::path& dir,
                                            const registry::ArrivingFiles& files) override;
};

}  // namespace tessera::cli
