#include "testing/file_fetcher.h"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace tessera::testing {

absl::Status FileFetcher::Fetch(const std::string& url, const ByteSink& sink, int64_t max_bytes,
                                const registry::CancellationToken& cancel) {
  last_url = url;
  std::ifstream in(file_, std::ios::binary);
  if (!in) return absl::NotFoundError("FileFetcher: cannot read " + file_.string());
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (static_cast<int64_t>(body.size()) > max_bytes) {
    return absl::ResourceExhaustedError("more than max_bytes");
  }
  for (size_t at = 0; at < body.size();) {
    int64_t size = std::min<int64_t>(64 << 10, static_cast<int64_t>(body.size() - at));
    for (const int64_t limit : {behaviour_.fail_after, behaviour_.stall_after}) {
      if (limit > bytes_taken) size = std::min(size, limit - bytes_taken);
    }
    if (bytes_taken == behaviour_.fail_after) {
      return absl::UnavailableError("downloading " + url + ": connection reset by peer");
    }
    if (bytes_taken == behaviour_.stall_after) {
      while (!cancel.WaitFor(absl::Milliseconds(10))) {
      }
      return absl::CancelledError("download stopped");
    }
    if (absl::Status taken = sink(std::string_view(body).substr(at, static_cast<size_t>(size)));
        !taken.ok()) {
      return taken;
    }
    bytes_taken += size;
    at += static_cast<size_t>(size);
  }
  return absl::OkStatus();
}

}  // namespace tessera::testing
