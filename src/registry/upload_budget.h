// How many bytes one upload may still write, and the error that names the limit it hits.
//
// Two limits apply to everything an upload writes (extracted files, blobs):
//   - the artifact size cap (`tessera serve --max-artifact-gib`): more is the request's fault,
//     INVALID_ARGUMENT;
//   - the room left on the artifact store's filesystem above its free-space reserve
//     (`--min-free-disk-gib`): more is the server's condition, RESOURCE_EXHAUSTED.
// Declared sizes (Content-Length, tar headers, file sizes) are checked against both before
// writing, and the running count of bytes actually written while writing (a lying header, a tar
// bomb, a growing file).
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

#include "absl/status/status.h"

namespace tessera::registry {

inline constexpr std::string_view kMaxArtifactFlag = "--max-artifact-gib";
inline constexpr std::string_view kMinFreeDiskFlag = "--min-free-disk-gib";

struct UploadBudget {
  static constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();
  int64_t cap_bytes = kUnlimited;   // the artifact size cap
  int64_t room_bytes = kUnlimited;  // free bytes on the store's filesystem minus the reserve
  int64_t reserve_bytes = 0;        // the reserve itself (for messages)

  // The most bytes that may be written: min(cap, room), never negative.
  int64_t limit() const;
  // OK when `bytes` (the size of `what`, e.g. "the download") fits both limits;
  // else INVALID_ARGUMENT naming the cap or RESOURCE_EXHAUSTED naming the free space.
  absl::Status Check(int64_t bytes, std::string_view what) const;
  // The error for `what` being larger than limit() when its exact size is unknown (a download
  // cut off at the limit): INVALID_ARGUMENT naming the cap, or RESOURCE_EXHAUSTED the disk.
  absl::Status TooLarge(std::string_view what) const;
};

}  // namespace tessera::registry
