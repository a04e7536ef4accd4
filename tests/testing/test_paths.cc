#include "testing/test_paths.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace tessera::testing {
namespace {

std::filesystem::path FromEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    ADD_FAILURE() << "environment variable " << name << " is not set (run tests through ctest)";
    return {};
  }
  return value;
}

}  // namespace

std::filesystem::path SourceDir() { return FromEnv("TESSERA_SOURCE_DIR"); }

std::optional<std::filesystem::path> SharedDataDir() {
  const char* value = std::getenv("TESSERA_SHARED_DATA");
  if (value == nullptr || !std::filesystem::is_directory(value)) return std::nullopt;
  return std::filesystem::path(value);
}

std::filesystem::path FixturesDir() { return FromEnv("TESSERA_FIXTURES"); }
std::filesystem::path TesseraBinary() { return FromEnv("TESSERA_BINARY"); }
std::filesystem::path VendoredDataDir() { return SourceDir() / "data"; }

}  // namespace tessera::testing
