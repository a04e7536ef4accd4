// A real (not always-OK) ArtifactValidator for registry and control tests, standing in for the
// engine's validator (the registry may not include the engine). It checks what an upload must
// guarantee without loading weights: config.json parses as a JSON object naming a model type or
// architecture, and model.safetensors has a well-formed header (length in range, JSON object,
// every tensor's dtype known and its data_offsets inside the file and matching its shape).
#pragma once

#include <atomic>
#include <filesystem>
#include <optional>

#include "absl/status/status.h"
#include "registry/artifact_validator.h"

namespace tessera::testing {

class HfCheckpointValidator final : public registry::ArtifactValidator {
 public:
  absl::Status Validate(const std::filesystem::path& dir) override;
  // Decides once config.json is complete and model.safetensors' header has arrived.
  std::optional<absl::Status> ValidateEarly(const std::filesystem::path& dir,
                                            const registry::ArrivingFiles& files) override;
  // How many times ValidateEarly decided.
  int early_verdicts() const { return early_verdicts_.load(); }

 private:
  std::atomic<int> early_verdicts_{0};
};

}  // namespace tessera::testing
