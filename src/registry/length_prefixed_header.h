// For ArtifactValidator::ValidateEarly: whether the header of a file laid out as a little-endian
// 64-bit length followed by that many bytes of header (the safetensors layout) has arrived, while
// the file is still being extracted (at its declared size, the unwritten part zeros).
#pragma once

#include <cstdint>
#include <filesystem>

#include "registry/artifact_validator.h"

namespace tessera::registry {

// True once `file` (at `path`) is complete or holds its whole header. A length that cannot be
// right (more than `max_header_bytes`, or beyond the file's size) counts as arrived: there is
// nothing more to wait for, and the validator refuses it.
bool LengthPrefixedHeaderArrived(const std::filesystem::path& path, const ArrivingFile& file,
                                 uint64_t max_header_bytes);

}  // namespace tessera::registry
