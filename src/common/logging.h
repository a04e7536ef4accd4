// Logging: spdlog, configured once by the CLI. Libraries log through spdlog's default logger
// (spdlog::info/warn/error); they never configure it.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace tessera {

// Sets the default logger: stderr, level from `level` ("debug", "info", "warn", "error"),
// lines prefixed with `process_name` (e.g. "serve", "replica 3").
absl::Status InitLogging(std::string_view process_name, std::string_view level);

}  // namespace tessera
