// Writes .tar and .tar.gz archives entry by entry for tests of archive intake, including entries
// no honest tool writes (links, devices, lying sizes).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tessera::testing {

struct TarEntry {
  std::string name;
  mode_t type = 0100000;  // AE_IFREG
  std::string data;
  std::string link;            // symlink target or hardlink source
  int64_t declared_size = -1;  // the header's size; -1: data.size()
};

// Aborts the test (gtest fatal failure) when libarchive cannot write `path`.
void WriteTar(const std::filesystem::path& path, const std::vector<TarEntry>& entries,
              bool gzip);

}  // namespace tessera::testing
