// Test helpers that speak raw bytes over sockets, to exercise the HTTP server and client with
// input a well-behaved peer would never produce (malformed requests, slow or dying peers).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/time/time.h"

namespace tessera::http::testing {

// One parsed HTTP/1.1 response (Content-Length framing only).
struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A blocking client socket with deadlines on every read.
class RawSocket {
 public:
  static RawSocket ConnectTcp(int port);  // 127.0.0.1
  // To 127.0.0.1:`port` from `source_ip` (another loopback address, e.g. "127.0.0.2": the whole
  // of 127/8 is loopback), to look like another client machine.
  static RawSocket ConnectTcpFrom(int port, const std::string& source_ip);
  static RawSocket ConnectUnix(const std::string& path);
  explicit RawSocket(int fd) : fd_(fd) {}
  RawSocket(RawSocket&& other) noexcept : fd_(other.fd_), buffer_(std::move(other.buffer_)) {
    other.fd_ = -1;
  }
  RawSocket& operator=(RawSocket&&) = delete;
  ~RawSocket();

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // False when the peer is gone.
  bool Send(std::string_view bytes);
  // Reads one response within `timeout`; nullopt on EOF, timeout or garbage.
  std::optional<RawResponse> ReadResponse(absl::Duration timeout);
  // True when the peer closes (EOF or reset) within `timeout`; data read meanwhile is dropped.
  bool WaitClosed(absl::Duration timeout);
  // Reads until `needle` was seen (true) or EOF/timeout (false); keeps the bytes in the buffer.
  bool ReadUntil(std::string_view needle, absl::Duration timeout);
  // Bytes received and not consumed by ReadResponse.
  const std::string& buffered() const { return buffer_; }
  void Close();

 private:
  // Reads what is available within `deadline`; 0 on EOF, -1 on error/timeout.
  int ReadSome(absl::Time deadline);

  int fd_ = -1;
  std::string buffer_;
};

// A TCP server on 127.0.0.1:<free port> that runs `on_connection(fd, index)` for each accepted
// connection, one at a time, on its own thread. The callback owns nothing: the fd is closed after
// it returns. stopping() tells a callback that waits to give up.
class RawServer {
 public:
  using OnConnection = std::function<void(RawServer& server, int fd, int index)>;
  explicit RawServer(OnConnection on_connection);
  ~RawServer();
  int port() const { return port_; }
  bool stopping() const { return stop_.load(); }
  // Reads a request head (up to "\r\n\r\n") and, per its Content-Length, its body, from `fd`.
  // Returns the whole request; "" on EOF/timeout/stop.
  std::string ReadRequest(int fd, absl::Duration timeout);
  // Blocks until the peer closes `fd` or the server stops.
  void WaitPeerClose(int fd);

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  OnConnection on_connection_;
  std::thread thread_;
};

// Sends all of `bytes` on `fd` (blocking); false on error.
bool SendAllFd(int fd, std::string_view bytes);

}  // namespace tessera::http::testing
