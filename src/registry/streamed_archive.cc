#include "registry/streamed_archive.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <exception>
#include <string_view>
#include <thread>

#include "fmt/format.h"
#include "registry/file_util.h"

namespace tessera::registry {
namespace {

// Closes a descriptor when it goes out of scope.
class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() { ::close(fd_); }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }

 private:
  const int fd_;
};

}  // namespace

absl::Status FetchAndExtractArchive(ArtifactFetcher& fetcher, const std::string& url,
                                    const std::filesystem::path& dest, const ExtractLimits& limits,
                                    const CancellationToken& cancel, const UploadBudget& budget,
                                    ExtractObserver* observer) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return ErrnoStatus(errno, "socketpair for the download of " + url);
  }
  OwnedFd reader(fds[0]);
  OwnedFd writer(fds[1]);
  // Set by the download thread when the extractor stopped reading (its own error stands).
  std::atomic<bool> reader_gone{false};
  absl::Status fetched;
  std::thread download([&] {
    auto into_socket = [&](std::string_view bytes) -> absl::Status {
      while (!bytes.empty()) {
        const ssize_t n = ::send(writer.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          reader_gone.store(true);
          return absl::AbortedError("the extraction stopped reading the download");
        }
        bytes.remove_prefix(static_cast<size_t>(n));
      }
      return absl::OkStatus();
    };
    try {
      fetched = fetcher.Fetch(url, into_socket, budget.limit(), cancel);
    } catch (const std::exception& e) {
      fetched = absl::InternalError(fmt::format("downloading {}: {}", url, e.what()));
    }
    ::shutdown(writer.get(), SHUT_WR);  // the extractor sees the end of the stream
  });
  const absl::Status extracted =
      ExtractTarStream(reader.get(), url, dest, limits, cancel, budget, observer);
  // Whatever follows the archive's end is not read: the download is told to stop (its sends
  // fail), like after a refusal.
  ::shutdown(reader.get(), SHUT_RDWR);
  download.join();
  if (extracted.ok()) return extracted;  // the archive is whole, whatever came after it
  if (!fetched.ok() && !reader_gone.load()) {
    if (absl::IsResourceExhausted(fetched)) return budget.TooLarge("the download of " + url);
    return fetched;  // the extractor only saw a stream cut short
  }
  return extracted;
}

}  // namespace tessera::registry
