#include "registry/upload_budget.h"

#include <algorithm>

#include "fmt/format.h"

namespace tessera::registry {

int64_t UploadBudget::limit() const {
  return std::max<int64_t>(0, std::min(cap_bytes, room_bytes));
}

absl::Status UploadBudget::Check(int64_t bytes, std::string_view what) const {
  if (bytes > cap_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("{} is {} bytes, more than the artifact size limit of {} bytes ({})", what,
                    bytes, cap_bytes, kMaxArtifactFlag));
  }
  if (bytes > room_bytes) {
    return absl::ResourceExhaustedError(fmt::format(
        "{} is {} bytes, but the artifact store's filesystem has room for only {} more bytes "
        "above its free-space reserve of {} bytes ({}); free disk space and retry",
        what, bytes, std::max<int64_t>(0, room_bytes), reserve_bytes, kMinFreeDiskFlag));
  }
  return absl::OkStatus();
}

absl::Status UploadBudget::TooLarge(std::string_view what) const {
  if (cap_bytes <= room_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("{} is larger than the artifact size limit of {} bytes ({})", what, cap_bytes,
                    kMaxArtifactFlag));
  }
  return absl::ResourceExhaustedError(fmt::format(
      "{} is larger than the {} bytes the artifact store's filesystem has room for above its "
      "free-space reserve of {} bytes ({}); free disk space and retry",
      what, std::max<int64_t>(0, room_bytes), reserve_bytes, kMinFreeDiskFlag));
}

}  // namespace tessera::registry
