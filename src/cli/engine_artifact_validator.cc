#include "cli/engine_artifact_validator.h"

#include <string>

#include "engine/image_classifier.h"
#include "engine/vit/checkpoint.h"
#include "engine/vit/safetensors.h"
#include "registry/length_prefixed_header.h"
#include "fmt/format.h"

namespace tessera::cli {
namespace {

// `message` with every "<dir>/" removed: the user uploaded files, not the store's directory.
std::string RelativeToArtifact(std::string message, const std::filesystem::path& dir) {
  std::string prefix = dir.string();
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.empty()) return message;
  prefix += '/';
  for (size_t at = message.find(prefix); at != std::string::npos; at = message.find(prefix, at)) {
    message.erase(at, prefix.size());
  }
  return message;
}

}  // namespace

absl::Status EngineArtifactValidator::Validate(const std::filesystem::path& dir) {
  absl::Status status = engine::ImageClassifier::Validate(dir);
  if (status.ok()) return status;
  // Whatever the engine's code (a missing file is NOT_FOUND there), a bad upload is the upload's
  // INVALID_ARGUMENT.
  return absl::InvalidArgumentError(
      fmt::format("the artifact is not a servable ViT checkpoint: {}",
                  RelativeToArtifact(std::string(status.message()), dir)));
}

std::optional<absl::Status> EngineArtifactValidator::ValidateEarly(
    const std::filesystem::path& dir, const registry::ArrivingFiles& files) {
  const auto complete = [&](const char* name) {
    const auto it = files.find(name);
    return it != files.end() && it->second.complete;
  };
  if (!complete(engine::kConfigFile) || !complete(engine::kPreprocessorConfigFile)) {
    return std::nullopt;
  }
  const auto weights = files.find(engine::kWeightsFile);
  if (weights == files.end() ||
      !registry::LengthPrefixedHeaderArrived(dir / engine::kWeightsFile, weights->second,
                                             engine::kMaxSafetensorsHeaderBytes)) {
    return std::nullopt;
  }
  return Validate(dir);
}

}  // namespace tessera::cli
