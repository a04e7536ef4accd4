#include "common/http/http_client_connection.h"

#include <poll.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/ssl.hpp>
#include <vector>

#include "fmt/format.h"

namespace tessera::http::internal {

namespace {

using asio::ip::tcp;

template <class T>
constexpr bool kIsStream = !std::is_same_v<std::decay_t<T>, std::monostate>;

}  // namespace

absl::Status StatusFromError(const beast::error_code& ec, std::string_view what,
                             std::string_view peer) {
  const std::string message = fmt::format("{} {}: {}", what, peer, ec.message());
  if (ec == beast::error::timeout) return absl::DeadlineExceededError(message);
  if (ec == bhttp::error::body_limit) {
    return absl::ResourceExhaustedError(
        fmt::format("{} {}: the response body exceeds the client's limit", what, peer));
  }
  if (ec == bhttp::error::header_limit) {
    return absl::ResourceExhaustedError(
        fmt::format("{} {}: the response header exceeds the client's limit", what, peer));
  }
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec == asio::error::eof) {
    return absl::UnavailableError(fmt::format(
        "{} {}: the peer closed the connection before the response was complete", what, peer));
  }
  return absl::UnavailableError(message);
}

ClientConnection::ClientConnection(std::string peer) : peer_(std::move(peer)) {
  // Beast reads as much as the buffer's free capacity: large bodies come in chunks this big.
  buffer_.reserve(256 << 10);
}

ClientConnection::~ClientConnection() {
  // Close the socket before the io_context goes (members die in reverse order anyway; this
  // also skips a TLS close_notify, which could block on a dead peer).
  if (beast::tcp_stream* tcp = TcpLayer()) {
    beast::error_code ignored;
    tcp->socket().close(ignored);
  } else if (auto* unix_stream = std::get_if<ClientUnixStream>(&stream_)) {
    beast::error_code ignored;
    unix_stream->socket().close(ignored);
  }
}

beast::tcp_stream* ClientConnection::TcpLayer() {
  if (auto* s = std::get_if<beast::tcp_stream>(&stream_)) return s;
  if (auto* s = std::get_if<ClientTlsStream>(&stream_)) return &beast::get_lowest_layer(*s);
  return nullptr;
}

void ClientConnection::RunUntil(const bool* done) {
  ioc_.restart();
  while (!*done) {
    if (ioc_.run_one() == 0) return;
  }
}

bool ClientConnection::RunUntilOrStopped(const bool* done, const std::function<bool()>& stopped,
                                         std::chrono::milliseconds period) {
  if (!stopped) {
    RunUntil(done);
    return false;
  }
  bool was_stopped = false;
  bool watch_done = false;
  asio::steady_timer watch(ioc_);
  std::function<void()> arm = [&] {
    watch.expires_after(period);
    watch.async_wait([&](beast::error_code ec) {
      if (ec || *done) {
        watch_done = true;
        return;
      }
      if (stopped()) {
        was_stopped = true;
        watch_done = true;
        std::visit(
            [](auto& s) {
              if constexpr (kIsStream<decltype(s)>) {
                beast::error_code ignored;
                beast::get_lowest_layer(s).socket().cancel(ignored);
              }
            },
            stream_);
        return;
      }
      arm();
    });
  };
  arm();
  RunUntil(done);
  if (!watch_done) {
    watch.cancel();
    RunUntil(&watch_done);
  }
  return was_stopped;
}

void ClientConnection::SetDeadline(SteadyClock::time_point deadline) {
  std::visit(
      [&](auto& s) {
        if constexpr (kIsStream<decltype(s)>) beast::get_lowest_layer(s).expires_at(deadline);
      },
      stream_);
}

absl::StatusOr<std::unique_ptr<ClientConnection>> ClientConnection::Open(
    const Url& url, const TlsSettings& tls, SteadyClock::time_point connect_deadline,
    SteadyClock::time_point call_deadline, const PeerFilter& filter) {
  std::unique_ptr<ClientConnection> c(new ClientConnection(url.ToString()));
  const bool connect_limit_first = connect_deadline < call_deadline;
  const SteadyClock::time_point deadline = std::min(connect_deadline, call_deadline);
  // A timeout of the connect limit (not the caller's) means the peer is unreachable.
  const auto fail = [&](const beast::error_code& ec, std::string_view what) {
    if (ec == beast::error::timeout && connect_limit_first) {
      return absl::UnavailableError(fmt::format("{} {}: timed out", what, c->peer_));
    }
    return StatusFromError(ec, what, c->peer_);
  };
  beast::error_code result;
  bool done = false;
  const auto on_done = [&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  };

  if (url.scheme == Url::Scheme::kUnix) {
    auto& s = c->stream_.emplace<ClientUnixStream>(c->ioc_);
    s.expires_at(deadline);
    s.async_connect(asio::local::stream_protocol::endpoint(url.unix_path), on_done);
    c->RunUntil(&done);
    if (result) return fail(result, "cannot connect to");
    return c;
  }

  // TCP: an IP literal needs no resolver; a name is resolved synchronously (a per-connection
  // asynchronous resolver would start a thread).
  tcp::resolver::results_type endpoints;
  {
    beast::error_code ec;
    const asio::ip::address address = asio::ip::make_address(url.host, ec);
    if (!ec) {
      endpoints = tcp::resolver::results_type::create(
          tcp::endpoint(address, static_cast<uint16_t>(url.port)), url.host,
          std::to_string(url.port));
    } else {
      tcp::resolver resolver(c->ioc_);
      endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
      if (ec) {
        return absl::UnavailableError(fmt::format("cannot resolve {}: {}", url.host, ec.message()));
      }
    }
  }
  if (filter) {
    // Keep only the addresses the filter accepts; the connect below uses exactly these.
    std::vector<tcp::endpoint> allowed;
    absl::Status first_refusal;
    for (const auto& entry : endpoints) {
      const absl::Status verdict = filter(entry.endpoint().address().to_string());
      if (verdict.ok()) {
        allowed.push_back(entry.endpoint());
      } else if (first_refusal.ok()) {
        first_refusal = verdict;
      }
    }
    if (allowed.empty()) {
      if (first_refusal.ok()) {
        return absl::UnavailableError(fmt::format("{} resolved to no address", url.host));
      }
      return absl::Status(first_refusal.code(), fmt::format("connecting to {}: {}", c->peer_,
                                                            std::string(first_refusal.message())));
    }
    endpoints = tcp::resolver::results_type::create(allowed.begin(), allowed.end(), url.host,
                                                    std::to_string(url.port));
  }
  beast::tcp_stream* tcp = nullptr;
  if (url.scheme == Url::Scheme::kHttps) {
    if (tls.context == nullptr) return absl::FailedPreconditionError("https is not configured");
    tcp = &beast::get_lowest_layer(c->stream_.emplace<ClientTlsStream>(c->ioc_, *tls.context));
  } else {
    tcp = &c->stream_.emplace<beast::tcp_stream>(c->ioc_);
  }
  tcp->expires_at(deadline);
  tcp->async_connect(endpoints, on_done);
  c->RunUntil(&done);
  if (result) return fail(result, "cannot connect to");
  beast::error_code ignored;
  tcp->socket().set_option(tcp::no_delay(true), ignored);

  if (url.scheme == Url::Scheme::kHttps) {
    auto& s = std::get<ClientTlsStream>(c->stream_);
    beast::error_code not_literal;
    (void)asio::ip::make_address(url.host, not_literal);
    // SNI, for names only (RFC 6066 forbids IP literals there).
    if (not_literal && !SSL_set_tlsext_host_name(s.native_handle(), url.host.c_str())) {
      return absl::InternalError(fmt::format("cannot set TLS SNI for {}", url.host));
    }
    if (tls.verify_peer) {
      s.set_verify_mode(asio::ssl::verify_peer);
      s.set_verify_callback(asio::ssl::host_name_verification(url.host));
    } else {
      s.set_verify_mode(asio::ssl::verify_none);
    }
    done = false;
    tcp->expires_at(deadline);
    s.async_handshake(asio::ssl::stream_base::client, on_done);
    c->RunUntil(&done);
    if (result) return fail(result, "TLS handshake failed with");
  }
  return c;
}

absl::StatusOr<HttpResponse> ClientConnection::RoundTrip(
    bhttp::request<bhttp::span_body<const char>>& request, const ResponseLimits& limits,
    SteadyClock::time_point deadline, ExchangeInfo* info, const CancellationToken* cancel) {
  *info = ExchangeInfo();
  SetDeadline(deadline);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  if (request.method() == bhttp::verb::head) parser.skip(true);

  beast::error_code write_ec;
  beast::error_code read_ec;
  bool write_done = false;
  bool read_done = false;
  bool both_done = false;
  std::visit(
      [&](auto& s) {
        if constexpr (kIsStream<decltype(s)>) {
          bhttp::async_write(s, request, [&](beast::error_code ec, size_t) {
            write_ec = ec;
            write_done = true;
            both_done = read_done;
          });
          bhttp::async_read(s, buffer_, parser, [&](beast::error_code ec, size_t) {
            read_ec = ec;
            read_done = true;
            both_done = write_done;
            // An early answer (e.g. 413 before the body was taken): stop sending.
            if (!ec && !write_done) {
              beast::error_code ignored;
              beast::get_lowest_layer(s).socket().cancel(ignored);
            }
          });
        }
      },
      stream_);
  // Cancellation is polled on this thread's io_context (a token has no way to wake it): every
  // few milliseconds while the exchange runs. Cancelling the socket's operations ends both.
  std::function<bool()> client_gone;
  if (cancel != nullptr) client_gone = [cancel] { return cancel->cancelled(); };
  const bool cancelled = RunUntilOrStopped(&both_done, client_gone, std::chrono::milliseconds(5));
  if (!both_done) return absl::InternalError("client io_context stopped");

  info->request_sent = !write_ec;
  if (cancelled) {
    info->reusable = false;
    return absl::CancelledError(
        fmt::format("the call to {} was cancelled: its client went away", peer_));
  }
  info->response_started = parser.got_some();
  if (read_ec) {
    if (write_ec && write_ec != beast::error::timeout) {
      return StatusFromError(write_ec, "sending the request to", peer_);
    }
    return StatusFromError(read_ec, "reading the response from", peer_);
  }
  bhttp::response<bhttp::string_body> message = parser.release();
  info->reusable = !write_ec && message.keep_alive() && buffer_.size() == 0;
  HttpResponse response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  if (const auto it = message.find(bhttp::field::content_type); it != message.end()) {
    response.content_type = std::string(it->value());
  }
  response.body = std::move(message.body());
  return response;
}

absl::Status ClientConnection::WriteRequest(bhttp::request<bhttp::empty_body>& request,
                                            SteadyClock::time_point deadline) {
  absl::StatusOr<beast::error_code> result = RunOperation(
      [&](auto& s, auto handler) { bhttp::async_write(s, request, std::move(handler)); },
      deadline);
  if (!result.ok()) return result.status();
  if (*result) return StatusFromError(*result, "sending the request to", peer_);
  return absl::OkStatus();
}

absl::Status ClientConnection::ReadHeader(bhttp::response_parser<bhttp::empty_body>& parser,
                                          SteadyClock::time_point deadline,
                                          const std::function<bool()>& stopped) {
  absl::StatusOr<beast::error_code> result = RunOperation(
      [&](auto& s, auto handler) {
        bhttp::async_read_header(s, buffer_, parser, std::move(handler));
      },
      deadline, stopped);
  if (!result.ok()) return result.status();
  if (*result) return StatusFromError(*result, "reading the response from", peer_);
  return absl::OkStatus();
}

absl::Status ClientConnection::ReadSomeBody(bhttp::response_parser<bhttp::buffer_body>& parser,
                                            SteadyClock::time_point deadline,
                                            const std::function<bool()>& stopped) {
  absl::StatusOr<beast::error_code> result = RunOperation(
      [&](auto& s, auto handler) {
        bhttp::async_read_some(s, buffer_, parser, std::move(handler));
      },
      deadline, stopped);
  if (!result.ok()) return result.status();
  if (*result == bhttp::error::need_buffer) return absl::OkStatus();  // the piece is full
  if (*result) return StatusFromError(*result, "reading the response from", peer_);
  return absl::OkStatus();
}

bool ClientConnection::LooksAlive() {
  if (buffer_.size() != 0) return false;
  int fd = -1;
  if (beast::tcp_stream* tcp = TcpLayer()) {
    fd = tcp->socket().native_handle();
  } else if (auto* unix_stream = std::get_if<ClientUnixStream>(&stream_)) {
    fd = unix_stream->socket().native_handle();
  }
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  const int ready = ::poll(&p, 1, 0);
  if (ready == 0) return true;  // nothing to read: still open
  if (ready < 0) return false;
  // Readable while idle: either EOF (the peer closed), an error, or bytes nobody asked for.
  // None of these connections is usable.
  return false;
}

}  // namespace tessera::http::internal
