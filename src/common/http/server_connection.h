// INTERNAL to http_server.cc: one server connection on Boost.Beast. Not for other users (it
// pulls in Beast, which http_server.h keeps out of everyone else's compile).
//
// A connection runs on its own strand: every member below is touched only from that strand,
// except where a comment says otherwise. Lifetime: shared_ptr, held by the pending asio
// operation, and while a handler has the request, by the ResponseLink its Responder holds.
#pragma once

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/admission.h"
#include "common/cancellation.h"
#include "common/http/exception_response.h"
#include "common/http/google_error.h"
#include "common/http/handler.h"
#include "common/http/http_server.h"
#include "common/http/request_id.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using TcpStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using UnixStream = beast::basic_stream<asio::local::stream_protocol>;

class ConnectionBase;
class ResponseLink;

// State shared by the server and its connections. Owned by HttpServer::Impl, which outlives
// every connection (connections die with the io_context, before the core).
struct ServerCore {
  explicit ServerCore(const HttpServer::Options& o)
      : options(o), body_bytes(o.max_in_flight_body_bytes) {}

  const HttpServer::Options options;
  // TLS on the TCP listener (Options::tls_*); null: plain HTTP. Set before the first accept.
  std::unique_ptr<asio::ssl::context> tls_context;
  // Bytes of bodies read (or being read) and not yet answered.
  ByteBudget body_bytes;
  std::atomic<int64_t> connections_accepted{0};
  std::atomic<int64_t> connections_active{0};
  std::atomic<int64_t> connections_refused{0};
  std::atomic<int64_t> connections_refused_per_peer{0};
  std::atomic<int64_t> accept_failures{0};
  std::atomic<int64_t> requests{0};

  absl::Mutex mu;
  // Set once by Shutdown: connections then close after their current response.
  bool draining ABSL_GUARDED_BY(mu) = false;
  std::unordered_map<const ConnectionBase*, std::weak_ptr<ConnectionBase>> connections
      ABSL_GUARDED_BY(mu);

  // Counts one more connection from `peer` (an address without the port); false when that peer
  // already has max_connections_per_peer. An empty peer (a unix socket) is not counted.
  bool AcquirePeer(const std::string& peer);
  void ReleasePeer(const std::string& peer);

  absl::Mutex peers_mu;
  std::unordered_map<std::string, int> connections_per_peer ABSL_GUARDED_BY(peers_mu);

  // Adds a new connection; false when the server is draining (the caller drops it).
  bool Register(const std::shared_ptr<ConnectionBase>& connection);
  void Unregister(const ConnectionBase* connection);

  // Every Responder's link, for Shutdown: after the io threads stop, it disconnects each one a
  // handler still holds, so a handler that answers later (an executor thread finishing after
  // the server is gone) touches nothing of the server. Disconnecting only the links of the
  // connections Shutdown found alive missed one under load (ASan: heap-use-after-free in
  // ~ConnectionBase from a late Deliver).
  void TrackLink(const std::shared_ptr<ResponseLink>& link);
  std::vector<std::shared_ptr<ResponseLink>> OutstandingLinks();

  absl::Mutex links_mu;
  std::vector<std::weak_ptr<ResponseLink>> links ABSL_GUARDED_BY(links_mu);
  size_t prune_links_at ABSL_GUARDED_BY(links_mu) = 64;  // answered links are dropped lazily
};

// What a Responder's SendFunction holds: a revocable path back to one connection. Thread-safe.
class ResponseLink {
 public:
  explicit ResponseLink(std::shared_ptr<ConnectionBase> connection)
      : connection_(std::move(connection)) {}
  // Queues `response` on the connection's strand (once; later calls do nothing).
  void Deliver(HttpResponse&& response);
  // Called by the server before its io_context goes away: Deliver becomes a no-op.
  void Disconnect();

 private:
  absl::Mutex mu_;
  std::shared_ptr<ConnectionBase> connection_ ABSL_GUARDED_BY(mu_);
};

class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  // `peer` was counted by ServerCore::AcquirePeer; the connection releases it when it dies.
  ConnectionBase(ServerCore* core, std::string remote_address, std::string peer)
      : core_(core), remote_address_(std::move(remote_address)), peer_(std::move(peer)) {
    core_->connections_active.fetch_add(1, std::memory_order_relaxed);
  }
  virtual ~ConnectionBase() {
    core_->Unregister(this);
    core_->ReleasePeer(peer_);
    core_->connections_active.fetch_sub(1, std::memory_order_relaxed);
  }

  // Each posts itself onto the connection's strand; callable from any thread.
  virtual void Start() = 0;
  virtual void BeginDrain() = 0;
  virtual void ForceClose() = 0;
  virtual void PostResponse(HttpResponse&& response) = 0;

 protected:
  ServerCore* const core_;
  const std::string remote_address_;
  const std::string peer_;
};

// Builds the wire response for `response` (status checked, headers sanitized, body moved).
bhttp::response<bhttp::string_body> ToBeastResponse(HttpResponse&& response, bool head_request);
// The request as handlers see it; INVALID_ARGUMENT for a bad request target.
absl::StatusOr<HttpRequest> FromBeastRequest(bhttp::request<bhttp::string_body>&& message,
                                             const std::string& remote_address);
// The bytes of the 503 written (best effort) to a connection refused for max_connections or
// max_connections_per_peer; `message` says which.
std::string RefusalResponseBytes(std::string_view message);

template <class Stream>
class Connection final : public ConnectionBase {
 public:
  Connection(ServerCore* core, Stream stream, std::string remote_address, std::string peer)
      : ConnectionBase(core, std::move(remote_address), std::move(peer)),
        stream_(std::move(stream)),
        peer_watch_(stream_.get_executor()) {}

  void Start() override {
    asio::dispatch(stream_.get_executor(), [self = Self()] {
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->ReadNext();
      }
    });
  }
  void BeginDrain() override {
    asio::post(stream_.get_executor(), [self = Self()] {
      self->draining_ = true;
      if (self->state_ == State::kIdle) self->Close();
    });
  }
  void ForceClose() override {
    asio::post(stream_.get_executor(), [self = Self()] { self->Close(); });
  }
  void PostResponse(HttpResponse&& response) override {
    asio::post(stream_.get_executor(), [self = Self(), response = std::move(response)]() mutable {
      self->OnResponse(std::move(response));
    });
  }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  enum class State {
    kHandshake,  // TLS only: the client's handshake, within header_timeout of the accept
    kIdle,       // waiting for the first byte of the next request (idle_timeout)
    kReading,    // reading one request: its header within header_timeout of its first byte,
                 // then its body within body_timeout of the header's end
    kHandling,   // the handler has the request; waiting for its Responder
    kWriting,    // writing a response (write_timeout)
    kLingering,  // an error response is out; discarding input briefly so the client reads it
    kClosed,     // socket closed; outstanding operations finish with an error and do nothing
  };
  static constexpr size_t kReadChunkBytes = 16 << 10;
  // Beast reads as much as the buffer's free capacity (at least 512 bytes): a chunked body is
  // read in chunks of this size rather than of whatever the header left.
  static constexpr size_t kBodyReadBytes = 256 << 10;
  static constexpr size_t kMaxLingerBytes = 64 << 20;
  static constexpr size_t kBodyPadding = 64;  // simdjson::SIMDJSON_PADDING (see ReadBodyDirect)
  // How often a connection whose request is with the handler checks that its client is still
  // there (see WatchPeer).
  static constexpr std::chrono::milliseconds kPeerWatchInterval{20};

  std::shared_ptr<Connection> Self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }
  // The TCP (or unix) stream under any TLS layer: timeouts, the socket, closing.
  auto& Lowest() { return beast::get_lowest_layer(stream_); }

  // Arms the stream's timer for the next operations; "forever" for very long durations.
  void ExpireAfter(absl::Duration d) {
    if (d >= absl::Hours(24 * 365)) {
      Lowest().expires_never();
    } else {
      Lowest().expires_after(absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration())));
    }
  }

  // TLS: the handshake must finish within header_timeout (a client that opens a connection and
  // says nothing is a slowloris too); a failed one closes the connection.
  void Handshake() {
    if constexpr (kTls) {
      state_ = State::kHandshake;
      ExpireAfter(core_->options.header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self =
                                                                   Self()](beast::error_code ec) {
        if (self->state_ != State::kHandshake) return;
        if (ec) {
          spdlog::debug("http {}: TLS handshake failed: {}", self->remote_address_, ec.message());
          self->Close();
          return;
        }
        self->ReadNext();
      });
    }
  }

  void ReadNext() {
    if (state_ == State::kClosed) return;
    if (buffer_.size() > 0) {  // a pipelined request is already here
      ReadRequest();
      return;
    }
    if (draining_) {
      Close();
      return;
    }
    state_ = State::kIdle;
    ExpireAfter(core_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunkBytes),
                            [self = Self()](beast::error_code ec, size_t n) {
                              if (self->state_ != State::kIdle) return;
                              if (ec) {
                                self->Close();  // idle timeout, client closed, or drain
                                return;
                              }
                              self->buffer_.commit(n);
                              self->ReadRequest();
                            });
  }

  void ReadRequest() {
    state_ = State::kReading;
    request_start_ = std::chrono::steady_clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(core_->options.max_header_bytes));
    parser_->body_limit(core_->options.max_body_bytes);
    request_id_.clear();
    // Separate from (and shorter than) the body's deadline: a header is small, so a client that
    // trickles one is a slowloris, not a slow link.
    ExpireAfter(core_->options.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = Self()](beast::error_code ec, size_t) {
                               if (self->state_ == State::kReading) self->OnHeader(ec);
                             });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    const auto sent_id = parser_->get().find(kRequestIdHeader);
    request_id_ = sent_id != parser_->get().end() && IsAcceptableRequestId(sent_id->value())
                      ? std::string(sent_id->value())
                      : NewRequestId();
    const auto length = parser_->content_length();
    if (length && *length > core_->options.max_body_bytes) {
      SendErrorAndClose(413, absl::InvalidArgumentError(fmt::format(
                                 "request body of {} bytes exceeds the limit of {} bytes", *length,
                                 core_->options.max_body_bytes)));
      return;
    }
    if (parser_->is_done()) {
      OnRequest();
      return;
    }
    if (core_->options.admit_body) {
      HttpHeaders headers;
      for (const auto& field : parser_->get()) {
        headers.Add(std::string(field.name_string()), std::string(field.value()));
      }
      const std::string_view method(parser_->get().method_string().data(),
                                    parser_->get().method_string().size());
      const std::string target(parser_->get().target());
      const absl::Status admitted = core_->options.admit_body({.method = method,
                                                               .target = target,
                                                               .request_id = request_id_,
                                                               .remote_address = remote_address_,
                                                               .headers = headers});
      if (!admitted.ok()) {
        SendErrorAndClose(HttpStatusFromCode(admitted.code()), admitted, target);
        return;
      }
    }
    const int64_t body_bytes = static_cast<int64_t>(
        length && !parser_->chunked() ? *length : core_->options.max_body_bytes);
    if (!core_->body_bytes.TryAcquire(body_bytes)) {
      absl::Status full = absl::ResourceExhaustedError(fmt::format(
          "the server is overloaded: {} bytes of request bodies are in flight (limit {}); retry "
          "later",
          core_->body_bytes.in_use(), core_->body_bytes.limit()));
      SetRetryAfterSeconds(full, core_->body_bytes.RetryAfterSeconds());
      const std::string target(parser_->get().target());
      SendErrorAndClose(429, full, target);
      return;
    }
    admitted_body_bytes_ = body_bytes;
    ExpireAfter(core_->options.body_timeout);
    const auto expect = parser_->get().find(bhttp::field::expect);
    if (expect != parser_->get().end() && beast::iequals(expect->value(), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = Self()](beast::error_code ec, size_t) {
                          if (self->state_ != State::kReading) return;
                          if (ec) {
                            self->Close();
                            return;
                          }
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    const auto length = parser_->content_length();
    if (length && !parser_->chunked()) {
      ReadBodyDirect(static_cast<size_t>(*length));
      return;
    }
    buffer_.reserve(buffer_.size() +
                    (length ? std::min<uint64_t>(*length, kBodyReadBytes) : kBodyReadBytes));
    bhttp::async_read(stream_, buffer_, *parser_, [self = Self()](beast::error_code ec, size_t) {
      if (self->state_ != State::kReading) return;
      if (ec) {
        self->OnReadError(ec);
        return;
      }
      self->OnRequest();
    });
  }

  // A body of known length is read from the socket straight into the message's string. Beast's
  // parser would read it into buffer_ and copy it from there, after zero-filling the string: for
  // the hundreds of KiB of a base64 image, that copy was a visible share of a served request's
  // CPU, in the router and again in the replica. The string keeps kBodyPadding spare bytes, so
  // a SIMD JSON parser can read past the end without copying the body first (common/json_parser).
  // (Reading through a small, cache-resident buffer_ and appending instead, to skip the
  // zero-fill, measured no better: more reads per body.)
  void ReadBodyDirect(size_t length) {
    std::string& body = parser_->get().body();
    body.clear();
    body.reserve(length + kBodyPadding);
    body.resize(length);
    const size_t have = std::min(length, buffer_.size());  // what came with the header
    asio::buffer_copy(asio::buffer(body.data(), have), buffer_.data());
    buffer_.consume(have);
    if (have == length) {
      OnRequest();
      return;
    }
    asio::async_read(
        stream_, asio::buffer(body.data() + have, length - have),
        [self = Self()](beast::error_code ec, size_t) {
          if (self->state_ != State::kReading) return;
          if (ec) {
            // Short of its Content-Length: like Beast's partial_message, a close.
            self->OnReadError(ec == asio::error::eof ? bhttp::error::partial_message : ec);
            return;
          }
          self->OnRequest();
        });
  }

  void OnReadError(beast::error_code ec) {
    const bool http_error =
        &ec.category() == &bhttp::make_error_code(bhttp::error::bad_target).category();
    if (ec == bhttp::error::header_limit) {
      SendErrorAndClose(431, absl::InvalidArgumentError(
                                 fmt::format("request header exceeds the limit of {} bytes",
                                             core_->options.max_header_bytes)));
    } else if (ec == bhttp::error::body_limit) {
      SendErrorAndClose(
          413, absl::InvalidArgumentError(fmt::format("request body exceeds the limit of {} bytes",
                                                      core_->options.max_body_bytes)));
    } else if (http_error && ec != bhttp::error::end_of_stream &&
               ec != bhttp::error::partial_message) {
      SendErrorAndClose(
          400, absl::InvalidArgumentError(fmt::format("malformed HTTP request: {}", ec.message())));
    } else {
      if (ec == beast::error::timeout) {
        // The id is set once the header is in: without one, the header was late.
        const std::string_view part = request_id_.empty() ? "header" : "body";
        spdlog::debug("http {}: request {} not received within the {} timeout; closing",
                      remote_address_, part, part);
      }
      Close();  // end of stream, timeout, reset, cancelled
    }
  }

  void OnRequest() {
    bhttp::request<bhttp::string_body> message = parser_->release();
    parser_.reset();
    // An idle keep-alive connection should not hold a large read buffer.
    if (buffer_.size() == 0 && buffer_.capacity() > kReadChunkBytes) buffer_.shrink_to_fit();
    keep_alive_ = message.keep_alive();
    head_request_ = message.method() == bhttp::verb::head;
    // For the debug log line and for the error log of a handler that throws.
    static constexpr size_t kMaxLoggedTarget = 256;
    const std::string_view full_target(message.target().data(), message.target().size());
    std::string target = core_->options.redact_target ? core_->options.redact_target(full_target)
                                                      : std::string(full_target);
    if (target.size() > kMaxLoggedTarget) target.resize(kMaxLoggedTarget);
    request_line_ = fmt::format("{} {}", std::string_view(message.method_string().data(),
                                                          message.method_string().size()),
                                target);
    absl::StatusOr<HttpRequest> request = FromBeastRequest(std::move(message), remote_address_);
    if (!request.ok()) {
      SendErrorAndClose(400, request.status());
      return;
    }
    request->request_id = request_id_;
    state_ = State::kHandling;
    Lowest().expires_never();
    core_->requests.fetch_add(1, std::memory_order_relaxed);
    auto link = std::make_shared<ResponseLink>(shared_from_this());
    core_->TrackLink(link);
    cancellation_ = std::make_shared<CancellationToken>();
    Responder responder(
        [link = std::move(link)](HttpResponse&& response) { link->Deliver(std::move(response)); },
        cancellation_, request_id_);
    WatchPeer();
    // What the handler logs on this thread names the request.
    const ScopedLogFields log_fields({{"requestId", request_id_}});
    try {
      core_->options.handler(*std::move(request), responder);
    } catch (...) {
      HttpResponse error = ExceptionResponse(fmt::format("http handler ({})", remote_address_),
                                             request_id_, request_line_);
      if (!responder.responded()) responder.Respond(std::move(error));
    }
  }

  // While the handler has the request, no read is pending (the next pipelined request waits in
  // the socket), so a client that hung up would go unnoticed until the response is written.
  // Polling for POLLRDHUP/POLLHUP notices it without reading (and without consuming a pipelined
  // request): the request's token is cancelled, so a predict not yet computed is dropped.
  void WatchPeer() {
    peer_watch_.expires_after(kPeerWatchInterval);
    peer_watch_.async_wait([self = Self()](beast::error_code ec) {
      if (ec || self->state_ != State::kHandling || self->cancellation_ == nullptr) return;
      pollfd p{self->Lowest().socket().native_handle(), POLLRDHUP, 0};
      if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0) {
        spdlog::debug(
            "http {}: the client closed its connection before the response; "
            "cancelling the request",
            self->remote_address_);
        self->cancellation_->Cancel();
        return;
      }
      self->WatchPeer();
    });
  }

  // The request's body bytes leave the server's budget once it is answered (or abandoned).
  void ReleaseBodyBytes(bool answered) {
    if (admitted_body_bytes_ == 0) return;
    if (answered) {
      core_->body_bytes.Release(admitted_body_bytes_);
    } else {
      core_->body_bytes.Unwind(admitted_body_bytes_);
    }
    admitted_body_bytes_ = 0;
  }

  void OnResponse(HttpResponse&& response) {
    if (state_ != State::kHandling) return;  // closed meanwhile (shutdown)
    peer_watch_.cancel();
    cancellation_.reset();
    ReleaseBodyBytes(/*answered=*/true);
    const int status = response.status;
    const std::string* connection = response.headers.Find("Connection");
    const bool handler_closes = connection != nullptr && beast::iequals(*connection, "close");
    response_ = ToBeastResponse(std::move(response), head_request_);
    const bool keep_alive = keep_alive_ && !draining_ && !handler_closes;
    response_.keep_alive(keep_alive);
    response_.set(kRequestIdHeader, request_id_);
    LogAccess(status, response_.body().size());
    request_line_.clear();
    Write(keep_alive ? AfterWrite::kReadNext : AfterWrite::kClose);
  }

  // One line per answered request, refusals of the listener included: at info as the access
  // log, else at debug. `target`: what a refusal before the request line was kept knows.
  void LogAccess(int status, size_t body_bytes, std::string_view target = {}) const {
    if (!(core_->options.access_log ? spdlog::should_log(spdlog::level::info)
                                    : spdlog::should_log(spdlog::level::debug))) {
      return;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - request_start_)
            .count();
    const size_t space = request_line_.find(' ');
    std::string path = space == std::string::npos ? "" : request_line_.substr(space + 1);
    if (path.empty() && !target.empty()) {
      path =
          core_->options.redact_target ? core_->options.redact_target(target) : std::string(target);
      if (path.size() > 256) path.resize(256);
    }
    const ScopedLogFields fields({{"method", request_line_.substr(0, space)},
                                  {"path", std::move(path)},
                                  {"status", std::to_string(status)},
                                  {"bytes", std::to_string(body_bytes)},
                                  {"durationMs", fmt::format("{:.2f}", ms)},
                                  {"remote", remote_address_},
                                  {"requestId", request_id_}});
    spdlog::log(core_->options.access_log ? spdlog::level::info : spdlog::level::debug, "access");
  }

  enum class AfterWrite { kReadNext, kClose, kLinger };

  void Write(AfterWrite after) {
    state_ = State::kWriting;
    ExpireAfter(core_->options.write_timeout);
    bhttp::async_write(stream_, response_, [self = Self(), after](beast::error_code ec, size_t) {
      if (self->state_ != State::kWriting) return;
      self->response_ = {};  // frees the body now, not at the next response
      if (ec) {
        self->Close();
      } else if (after == AfterWrite::kReadNext) {
        self->ReadNext();
      } else if (after == AfterWrite::kClose) {
        beast::error_code ignored;
        self->Lowest().socket().shutdown(asio::socket_base::shutdown_send, ignored);
        self->Close();
      } else {
        self->Linger();
      }
    });
  }

  // Answers a request that cannot be served (413, 431, 400) and closes the connection.
  void SendErrorAndClose(int http_status, const absl::Status& status,
                         std::string_view target = {}) {
    parser_.reset();
    ReleaseBodyBytes(/*answered=*/false);
    spdlog::debug("http {}: {} {}", remote_address_, http_status, std::string(status.message()));
    if (request_id_.empty()) request_id_ = NewRequestId();  // the header was not readable
    HttpResponse error = core_->options.refusal_response && !target.empty()
                             ? core_->options.refusal_response(target, status)
                             : GoogleErrorResponse(http_status, status);
    error.status = http_status;
    LogAccess(http_status, error.body.size(), target);
    response_ = ToBeastResponse(std::move(error), /*head_request=*/false);
    response_.keep_alive(false);
    response_.set(kRequestIdHeader, request_id_);
    Write(AfterWrite::kLinger);
  }

  // After an error response: stop sending, then read and drop what the client is still sending
  // (for a while), so closing does not reset the connection before the client read the error.
  void Linger() {
    state_ = State::kLingering;
    beast::error_code ignored;
    Lowest().socket().shutdown(asio::socket_base::shutdown_send, ignored);
    ExpireAfter(absl::Seconds(1));
    lingered_bytes_ = 0;
    LingerRead();
  }
  void LingerRead() {
    buffer_.consume(buffer_.size());
    // Raw bytes (TLS records too): they are only discarded.
    Lowest().async_read_some(buffer_.prepare(kReadChunkBytes),
                             [self = Self()](beast::error_code ec, size_t n) {
                               if (self->state_ != State::kLingering) return;
                               self->lingered_bytes_ += n;
                               if (ec || self->lingered_bytes_ > kMaxLingerBytes) {
                                 self->Close();
                                 return;
                               }
                               self->LingerRead();
                             });
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    parser_.reset();
    peer_watch_.cancel();
    ReleaseBodyBytes(/*answered=*/false);
    // A connection closed by the server (shutdown, timeout) abandons its request too.
    if (cancellation_ != nullptr) cancellation_->Cancel();
    cancellation_.reset();
    beast::error_code ignored;
    Lowest().socket().shutdown(asio::socket_base::shutdown_both, ignored);
    Lowest().close();  // cancels the timer and any pending operation
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  State state_ = State::kIdle;
  bool draining_ = false;    // set by BeginDrain: close after the current response
  bool keep_alive_ = false;  // of the request being handled
  bool head_request_ = false;
  size_t lingered_bytes_ = 0;
  std::string request_line_;  // "METHOD target" of the request being handled, for the logs
  std::string request_id_;    // of the request being read or handled; empty before its header
  // The token of the request the handler has (kHandling), and its client-gone check.
  std::shared_ptr<CancellationToken> cancellation_;
  asio::steady_timer peer_watch_;
  int64_t admitted_body_bytes_ = 0;  // what this request holds of core_->body_bytes
  std::chrono::steady_clock::time_point request_start_;
};

}  // namespace tessera::http::internal
