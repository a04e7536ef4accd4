#include "cli/process_limits.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::cli {

namespace {

// The kernel's ceiling on a process's descriptors (fs.nr_open); 1 << 20 when it cannot be read.
rlim_t KernelOpenFileCeiling() {
  std::ifstream in("/proc/sys/fs/nr_open");
  unsigned long long value = 0;
  return in >> value && value > 0 ? static_cast<rlim_t>(value) : rlim_t{1} << 20;
}

}  // namespace

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  // An unlimited hard limit cannot be the soft one (setrlimit refuses more than fs.nr_open).
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? KernelOpenFileCeiling() : limit.rlim_max;
  if (limit.rlim_cur <= before) return;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("cannot raise the open-file limit from {}: {}", before, std::strerror(errno));
    return;
  }
  spdlog::info("open-file limit raised from {} to {}", before, limit.rlim_cur);
}

absl::Status RestrictDataDir(const std::filesystem::path& data_dir) {
  struct stat st {};
  if (stat(data_dir.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        fmt::format("cannot stat the data dir {}: {}", data_dir.string(), std::strerror(errno)));
  }
  if ((st.st_mode & 077) == 0) return absl::OkStatus();
  if (chmod(data_dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(fmt::format(
        "the data dir {} is open to other users (mode {:o}) and cannot be made 0700: {}",
        data_dir.string(), st.st_mode & 0777, std::strerror(errno)));
  }
  spdlog::info("data dir {}: mode {:o} -> 700 (it holds keys and the registry)", data_dir.string(),
               st.st_mode & 0777);
  return absl::OkStatus();
}

}  // namespace tessera::cli
