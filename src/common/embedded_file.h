// A file compiled into the binary (cmake/EmbedFiles.cmake).
#pragma once

#include <span>
#include <string_view>

namespace tessera {

struct EmbeddedFile {
  std::string_view name;  // path relative to where it was vendored from
  std::span<const unsigned char> bytes;
};

}  // namespace tessera
