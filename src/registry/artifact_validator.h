// Checks that an uploaded artifact can be served, before its version is committed. The registry
// cannot know model formats (it may not include the engine), so the check is injected: the CLI
// wires the engine's validator (config.json parsed, safetensors header read against it; the
// weights are not loaded). Tests use tests/testing/hf_checkpoint_validator.h.
#pragma once

#include <filesystem>

#include "absl/status/status.h"

namespace tessera::registry {

class ArtifactValidator {
 public:
  virtual ~ArtifactValidator() = default;
  // `dir` holds the artifact's files as they will be served (read-only hard links). Returns OK,
  // or INVALID_ARGUMENT whose message says what is wrong ("config.json is missing", "tensor X has
  // shape ... but config.json implies ..."); the upload fails with that message. Called on an
  // operation worker thread, possibly concurrently for different uploads.
  virtual absl::Status Validate(const std::filesystem::path& dir) = 0;
};

}  // namespace tessera::registry
