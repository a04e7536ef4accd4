// Checks that an uploaded artifact can be served, before its version is committed. The registry
// cannot know model formats (it may not include the engine), so the check is injected: the CLI
// wires the engine's validator (config.json parsed, safetensors header read against it; the
// weights are not loaded). Tests use tests/testing/hf_checkpoint_validator.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"

namespace tessera::registry {

// One file of an archive still being extracted.
struct ArrivingFile {
  int64_t bytes_written = 0;  // from its start
  bool complete = false;      // every byte of the entry is written
};
// By path relative to the artifact's root ("config.json", "sub/x.bin").
using ArrivingFiles = std::map<std::string, ArrivingFile>;

class ArtifactValidator {
 public:
  virtual ~ArtifactValidator() = default;
  // `dir` holds the artifact's files as they will be served (read-only hard links). Returns OK,
  // or INVALID_ARGUMENT whose message says what is wrong ("config.json is missing", "tensor X has
  // shape ... but config.json implies ..."); the upload fails with that message. Called on an
  // operation worker thread, possibly concurrently for different uploads.
  virtual absl::Status Validate(const std::filesystem::path& dir) = 0;

  // Called while an archive is still being extracted into `dir` (after each piece written), so
  // that a bad checkpoint is refused before gigabytes of it are downloaded and written. Files not
  // yet complete already have their final size on disk; the part not yet written reads as zeros.
  // Returns nullopt while what has arrived cannot decide yet, else what Validate would say of the
  // files as they will be (the complete artifact is validated again all the same). Must be cheap
  // while undecided: it runs once per 64 KiB extracted. The default never decides early.
  virtual std::optional<absl::Status> ValidateEarly(const std::filesystem::path& dir,
                                                    const ArrivingFiles& files) {
    (void)dir;
    (void)files;
    return std::nullopt;
  }
};

}  // namespace tessera::registry
