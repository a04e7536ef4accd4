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

// The download's side: runs the fetcher on its own thread into `writer`, and however the
// extraction from `reader` ends (an error, an exception), stops the download and joins the
// thread.
class DownloadThread {
 public:
  DownloadThread(ArtifactFetcher& fetcher, const std::string& url, int reader, int writer,
                 int64_t max_bytes)
      : reader_(reader), writer_(writer), thread_([this, &fetcher, url, max_bytes] {
          try {
            fetched_ = fetcher.Fetch(
                url, [this](std::string_view bytes) { return Send(bytes); }, max_bytes, stop_);
          } catch (const std::exception& e) {
            fetched_ = absl::InternalError(fmt::format("downloading {}: {}", url, e.what()));
          } catch (...) {
            fetched_ = absl::InternalError(fmt::format("downloading {}: unknown exception", url));
          }
          ended_.store(true, std::memory_order_release);
          ::shutdown(writer_, SHUT_WR);  // the extractor sees the end of the stream
        }) {}
  ~DownloadThread() { StopAndJoin(); }
  DownloadThread(const DownloadThread&) = delete;
  DownloadThread& operator=(const DownloadThread&) = delete;

  // Whether the download has ended by itself (read before StopAndJoin).
  bool ended() const { return ended_.load(std::memory_order_acquire); }
  // Stops the download (a send into the socket pair fails at once, and the fetcher notices
  // within ~20 ms however stalled the server) and waits for the thread. Then fetched() is final.
  void StopAndJoin() {
    if (!thread_.joinable()) return;
    ::shutdown(reader_, SHUT_RDWR);
    stop_.Cancel();
    thread_.join();
  }
  const absl::Status& fetched() const { return fetched_; }
  // The extractor stopped reading before the download ended.
  bool reader_gone() const { return reader_gone_.load(); }

 private:
  absl::Status Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(writer_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
        reader_gone_.store(true);
        return absl::AbortedError("the extraction stopped reading the download");
      }
      if (n < 0) return ErrnoStatus(errno, "passing the download to the extraction");
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  const int reader_;
  const int writer_;
  CancellationToken stop_;
  absl::Status fetched_;
  std::atomic<bool> ended_{false};
  std::atomic<bool> reader_gone_{false};
  std::thread thread_;  // last: starts once the members it uses exist
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
  // The archive is not stored, so only the artifact cap bounds the download; the disk's room
  // bounds what the extraction writes.
  UploadBudget download_budget = budget;
  download_budget.room_bytes = UploadBudget::kUnlimited;
  DownloadThread download(fetcher, url, reader.get(), writer.get(), download_budget.limit());
  const absl::Status extracted =
      ExtractTarStream(reader.get(), url, dest, limits, cancel, budget, observer);
  // Did the download end, and fail, on its own before the extraction returned? Then the
  // extraction saw a stream cut short, which may even have looked whole (a plain tar cut at an
  // entry's end reads as a complete archive). Read before stopping it.
  const bool download_ended_first = download.ended();
  download.StopAndJoin();
  const absl::Status& fetched = download.fetched();
  if (download_ended_first && !fetched.ok() && !download.reader_gone()) {
    if (absl::IsResourceExhausted(fetched)) {
      return download_budget.TooLarge("the download of " + url);
    }
    return fetched;
  }
  return extracted;  // when OK, the archive is whole, whatever came after its end
}

}  // namespace tessera::registry
