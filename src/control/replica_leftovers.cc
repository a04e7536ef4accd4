#include "control/replica_leftovers.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::control {
namespace {

namespace fs = std::filesystem;

// The server pid a fallback socket name "<pid>-<replica>.sock" starts with, or 0.
pid_t ServerPidOf(const std::string& name) {
  pid_t pid = 0;
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(name.data(), end, pid);
  if (ec != std::errc() || ptr == end || *ptr != '-' || pid <= 0) return 0;
  return pid;
}

bool Running(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

bool Remove(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    spdlog::warn("cannot remove {} left by a previous server: {}", path.string(), ec.message());
    return false;
  }
  return true;
}

}  // namespace

fs::path ReplicaSocketFallbackDir() {
  std::error_code ec;
  fs::path tmp = fs::temp_directory_path(ec);
  if (ec) tmp = "/tmp";
  return tmp / fmt::format("tessera-{}", ::geteuid());
}

int RemoveReplicaLeftovers(const fs::path& run_dir, const fs::path& fallback_dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_dir, ec)) {
    removed += Remove(entry.path()) ? 1 : 0;
  }
  ec.clear();
  for (const auto& entry : fs::directory_iterator(fallback_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const pid_t pid = ServerPidOf(name);
    if (pid == 0 || !name.ends_with(".sock") || Running(pid)) continue;
    removed += Remove(entry.path()) ? 1 : 0;
  }
  if (removed > 0) {
    spdlog::info("supervisor: removed {} replica socket(s) a previous server left", removed);
  }
  return removed;
}

}  // namespace tessera::control
