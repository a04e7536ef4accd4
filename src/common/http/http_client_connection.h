// INTERNAL to the client (.cc files of http_client): one client connection, on Boost.Beast.
// Not for other users (it pulls in Beast and OpenSSL).
//
// A connection owns a private io_context and runs its asynchronous operations on the calling
// thread until they finish, which is how every call gets a deadline without a background
// thread. Not thread-safe: one thread uses a connection at a time (the pool hands it out).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/cancellation.h"
#include "common/http/http_types.h"
#include "common/http/url.h"

namespace tessera::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using SteadyClock = std::chrono::steady_clock;
using ClientUnixStream = beast::basic_stream<asio::local::stream_protocol>;
using ClientTlsStream = beast::ssl_stream<beast::tcp_stream>;

// TLS settings shared by every connection of a client (the context is thread-safe once set up).
struct TlsSettings {
  asio::ssl::context* context = nullptr;  // null: https is refused
  bool verify_peer = true;
};

// The outcome of one request/response exchange, for the retry decision.
struct ExchangeInfo {
  bool request_sent = false;      // the whole request was written
  bool response_started = false;  // at least one byte of the response arrived
  bool reusable = false;          // complete and keep-alive: may go back to the pool
};

struct ResponseLimits {
  size_t max_body_bytes = 0;
  size_t max_header_bytes = 0;
};

// The error for a failed socket/HTTP operation: DEADLINE_EXCEEDED for the call deadline
// (beast::error::timeout), RESOURCE_EXHAUSTED for a body over the limit, UNAVAILABLE for the rest.
absl::Status StatusFromError(const beast::error_code& ec, std::string_view what,
                             std::string_view peer);

// HttpClient::Options::peer_filter; empty allows every address.
using PeerFilter = std::function<absl::Status(std::string_view ip)>;

class ClientConnection {
 public:
  // Connects (and for https, handshakes) to `url`'s host. The connect must finish by
  // `connect_deadline` (UNAVAILABLE when that passes) and by `call_deadline` (DEADLINE_EXCEEDED).
  // Only resolved addresses `filter` accepts are connected to.
  static absl::StatusOr<std::unique_ptr<ClientConnection>> Open(
      const Url& url, const TlsSettings& tls, SteadyClock::time_point connect_deadline,
      SteadyClock::time_point call_deadline, const PeerFilter& filter = nullptr);

  ~ClientConnection();

  // Writes `request` and reads its response by `deadline`. The response is read while the
  // request is still being written, so a peer that answers early (413) and closes is reported
  // as its answer, not as a broken pipe. When `cancel` (optional) fires meanwhile, the exchange is
  // abandoned (CANCELLED; the connection is not reusable: the caller closes it).
  absl::StatusOr<HttpResponse> RoundTrip(bhttp::request<bhttp::span_body<const char>>& request,
                                         const ResponseLimits& limits,
                                         SteadyClock::time_point deadline, ExchangeInfo* info,
                                         const CancellationToken* cancel = nullptr);

  // Writes a body-less request by `deadline`.
  absl::Status WriteRequest(bhttp::request<bhttp::empty_body>& request,
                            SteadyClock::time_point deadline);
  // Reads a response header (the body stays unread) by `deadline`. When `stopped` (optional)
  // says yes meanwhile (asked every 20 ms), the read is abandoned: CANCELLED.
  absl::Status ReadHeader(bhttp::response_parser<bhttp::empty_body>& parser,
                          SteadyClock::time_point deadline,
                          const std::function<bool()>& stopped = nullptr);
  // Reads the rest of a message into `parser` by `deadline`.
  template <class Parser>
  absl::Status ReadRest(Parser& parser, SteadyClock::time_point deadline);
  // Reads what has arrived of a buffer_body message (at least a byte, or its end) into the
  // parser's buffer by `deadline`; `stopped` as for ReadHeader.
  absl::Status ReadSomeBody(bhttp::response_parser<bhttp::buffer_body>& parser,
                            SteadyClock::time_point deadline,
                            const std::function<bool()>& stopped = nullptr);

  // False when the peer closed the connection (or sent unexpected bytes) while it sat idle.
  // Non-blocking.
  bool LooksAlive();

  const std::string& peer() const { return peer_; }
  SteadyClock::time_point idle_since() const { return idle_since_; }
  void set_idle_since(SteadyClock::time_point t) { idle_since_ = t; }

 private:
  ClientConnection(std::string peer);

  // Starts one asynchronous operation on the stream (`start(stream, handler)`, for whichever
  // stream type this connection has) and runs it to its end by `deadline`. Its error code, or
  // CANCELLED when `stopped` (optional) said yes first, or INTERNAL if the io_context stopped.
  template <class Start>
  absl::StatusOr<beast::error_code> RunOperation(Start&& start, SteadyClock::time_point deadline,
                                                 const std::function<bool()>& stopped = nullptr);
  // Runs the io_context until `*done` is true (or it runs out of work).
  void RunUntil(const bool* done);
  // The same, asking `stopped` (when given) every `period`; once it says yes, the socket's
  // operations are cancelled (they end with operation_aborted) and this returns true.
  bool RunUntilOrStopped(const bool* done, const std::function<bool()>& stopped,
                         std::chrono::milliseconds period = std::chrono::milliseconds(20));
  void SetDeadline(SteadyClock::time_point deadline);
  beast::tcp_stream* TcpLayer();

  asio::io_context ioc_{1};
  std::variant<std::monostate, beast::tcp_stream, ClientUnixStream, ClientTlsStream> stream_;
  beast::flat_buffer buffer_;
  std::string peer_;
  SteadyClock::time_point idle_since_;
};

template <class Start>
absl::StatusOr<beast::error_code> ClientConnection::RunOperation(
    Start&& start, SteadyClock::time_point deadline, const std::function<bool()>& stopped) {
  SetDeadline(deadline);
  beast::error_code result;
  bool done = false;
  std::visit(
      [&](auto& s) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
          start(s, [&](beast::error_code ec, size_t) {
            result = ec;
            done = true;
          });
        }
      },
      stream_);
  if (RunUntilOrStopped(&done, stopped)) {
    return absl::CancelledError("the exchange with " + peer_ + " was stopped");
  }
  if (!done) return absl::InternalError("client io_context stopped");
  return result;
}

template <class Parser>
absl::Status ClientConnection::ReadRest(Parser& parser, SteadyClock::time_point deadline) {
  absl::StatusOr<beast::error_code> result = RunOperation(
      [&](auto& s, auto handler) { bhttp::async_read(s, buffer_, parser, std::move(handler)); },
      deadline);
  if (!result.ok()) return result.status();
  if (*result) return StatusFromError(*result, "reading the response from", peer_);
  return absl::OkStatus();
}

// GETs `url` into `sink` (see HttpClient::Download); implemented in http_download.cc.
struct DownloadSettings {
  std::function<absl::StatusOr<TlsSettings>()> tls;  // called for https URLs only
  absl::Duration connect_timeout;
  size_t max_header_bytes = 0;
  std::string user_agent;
  PeerFilter peer_filter;
};
absl::Status Download(std::string_view url, const std::function<absl::Status(std::string_view)>& sink,
                      int64_t max_bytes, SteadyClock::time_point deadline,
                      const DownloadSettings& settings, const std::function<bool()>& stopped);

// `now` + `d`, saturating for very long (or infinite) durations.
SteadyClock::time_point DeadlineAfter(absl::Duration d);

}  // namespace tessera::http::internal
