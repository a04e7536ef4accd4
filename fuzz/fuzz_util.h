// Helpers shared by the fuzz targets: temporary files for the parsers that read from disk, and
// a check that aborts (a crash libFuzzer reports) when an invariant of a parser's contract fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace tessera::fuzz {

// A private folder under $TMPDIR (or /tmp), created once per process and removed at exit.
const std::filesystem::path& ScratchDir();

// Writes `bytes` to ScratchDir()/name (replacing it) and returns the path.
std::filesystem::path WriteScratchFile(const std::string& name, std::string_view bytes);

// Aborts with `what` when `ok` is false: a broken contract is a finding, like a crash.
void Require(bool ok, std::string_view what);

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace tessera::fuzz
