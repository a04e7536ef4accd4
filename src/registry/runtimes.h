// Which runtime serves a model version, chosen from `containerSpec.imageUri` at upload
// (docs/runtimes.md lists the table). Tessera runs no containers: the image name only selects a
// built-in runtime, so Vertex clients can keep the image URIs they already use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::registry {

inline constexpr std::string_view kVitRuntime = "vit";

struct RuntimeImageRule {
  std::string_view pattern;  // human-readable, for docs and error messages
  std::string_view runtime;
};

// The table, in match order.
const std::vector<RuntimeImageRule>& RuntimeImageRules();

// The runtime for `image_uri`, or INVALID_ARGUMENT naming the supported images.
absl::StatusOr<std::string> RuntimeForImage(std::string_view image_uri);

}  // namespace tessera::registry
