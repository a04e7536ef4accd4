// Cheap validation of a Hugging Face ViT / DeiT checkpoint folder, without reading any weight:
// config.json parses and names a supported architecture; model.safetensors has a valid header
// whose offsets lie inside the file; every tensor the config needs is there with the right
// shape and a float dtype. Reads config.json and the safetensors header only (milliseconds even
// for large models), so an upload can be refused before it is stored.
//
// Contract: pure function of the folder's contents; safe from any thread.
#pragma once

#include <filesystem>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/vit/config.h"

namespace tessera::engine {

// The files of a checkpoint folder.
inline constexpr char kConfigFile[] = "config.json";
inline constexpr char kWeightsFile[] = "model.safetensors";
inline constexpr char kPreprocessorConfigFile[] = "preprocessor_config.json";

// Validates `dir`/config.json and `dir`/model.safetensors (see above); returns the parsed config.
// NOT_FOUND for a missing file, INVALID_ARGUMENT for anything wrong inside one; messages name
// the file and, where one is at fault, the tensor.
absl::StatusOr<ViTConfig> ValidateCheckpointDir(const std::filesystem::path& dir);

}  // namespace tessera::engine
