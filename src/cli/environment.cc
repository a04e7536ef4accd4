#include "cli/environment.h"

#include <cstdlib>

#include "spdlog/spdlog.h"

namespace tessera::cli {

double EnvNumber(const char* name, double fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const double parsed = std::strtod(value, &end);
  if (end == value || *end != '\0' || !(parsed >= 0)) {
    spdlog::warn("ignoring {}={}: not a non-negative number", name, value);
    return fallback;
  }
  return parsed;
}

}  // namespace tessera::cli
