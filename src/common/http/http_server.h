// An HTTP/1.1 server (Boost.Beast underneath, hidden behind a pimpl): used by `tessera serve`
// (the REST frontends) and by `tessera replica` (the internal predict API over a unix socket or
// TCP). Transport only: what a request means is the handler's business (see router.h).
//
// What it does:
// - Listens on TCP (an IPv4 or IPv6 literal; port 0 picks a free port, see port()), plain or
//   TLS (OpenSSL), and/or a unix domain socket; N io threads serve every connection.
// - HTTP/1.1 keep-alive; pipelined requests are handled one after the other, responses in order.
// - Limits, each answered with a Google error body and the connection closed: a body over
//   max_body_bytes -> 413 (judged from Content-Length before the body is read, or while reading a
//   chunked body); headers over max_header_bytes -> 431; malformed HTTP or a bad request target
//   -> 400. Connections over max_connections, or over max_connections_per_peer from one peer
//   address, get 503 and are closed.
// - Admission by bytes: the bodies of requests read and not yet answered may hold at most
//   max_in_flight_body_bytes together. A request whose body would exceed it is answered 429
//   RESOURCE_EXHAUSTED with Retry-After (from the measured rate at which answered requests free
//   body bytes) before its body is read, and the connection is closed. The body's size is its
//   Content-Length; a chunked body counts as max_body_bytes.
// - Client gone: while the handler has a request, the connection is checked for the peer
//   closing it; if it does, the Responder's cancellation token fires (handler.h).
// - Timeouts: a connection waiting for its next request is closed after idle_timeout; a request's
//   header must arrive within header_timeout of its first byte, and its body within body_timeout
//   of the header's end (a slowloris client cannot hold a file descriptor for longer, and never
//   holds a thread: every read is asynchronous); a response must be written within write_timeout.
// - Accept failures (out of file descriptors: EMFILE, ENFILE) back off exponentially from 10 ms
//   to 1 s instead of spinning; accepting resumes by itself when descriptors free up.
// - Request ids: every request gets one (request_id.h; a short printable X-Request-Id from the
//   client is kept), in HttpRequest::request_id and in the X-Request-Id response header.
// - The handler is called once per request on an io thread with a Responder (handler.h). A
//   handler exception of any type becomes a 500 Google error carrying the request id, logged at
//   error level; the server keeps serving.
// - Shutdown(drain_timeout): stop accepting, close idle connections, let requests in flight
//   finish (their responses carry "Connection: close") until the timeout, then close the rest.
// - One debug-level log line per request.
//
// Thread safety: Create, Shutdown and the destructor are called from one owning thread that is
// not an io thread (not from inside a handler). port(), unix_socket_path() and stats() may be
// called from any thread. The handler is called concurrently from all io threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/handler.h"

namespace tessera::http {

// What the server knows of a request once its header is in (Options::admit_body).
struct HeaderView {
  std::string_view method;
  std::string_view target;
  std::string_view request_id;
  std::string_view remote_address;
  const HttpHeaders& headers;
};

class HttpServer {
 public:
  struct Options {
    // TCP: an IPv4 or IPv6 literal ("127.0.0.1", "0.0.0.0", "::1", "::"); empty for no TCP
    // listener. See ParseHostPort() in url.h for "host:port" text.
    std::string tcp_address = "127.0.0.1";
    int tcp_port = 0;  // 0 picks a free port; port() reports it
    // TLS on the TCP listener: PEM files of the certificate chain and its private key (both or
    // neither; the unix socket stays plain). TLS 1.2 or newer; the handshake must finish within
    // header_timeout. A bad file is INVALID_ARGUMENT at Create.
    std::string tls_certificate_file;
    std::string tls_private_key_file;
    // A unix domain socket path; empty for none. A stale socket file there is replaced; any
    // other file there is an error. The file is removed at shutdown.
    std::string unix_socket_path;
    int io_threads = 2;
    int listen_backlog = 1024;
    int max_connections = 10000;
    // Connections from one peer IP address (unix socket peers are not counted); more get 503.
    // One client cannot take every slot of max_connections.
    int max_connections_per_peer = 256;
    size_t max_body_bytes = 64 << 20;
    size_t max_header_bytes = 64 << 10;
    // 0: no limit (see above).
    int64_t max_in_flight_body_bytes = 0;
    // Optional: what the server's own log lines show of a request target (e.g. secrets a client
    // put in a URL by mistake, redacted). Null: the target as sent.
    std::function<std::string(std::string_view target)> redact_target;
    // Optional: called once the header of a request that has a body is in, before the body is
    // read or counted against max_in_flight_body_bytes. A non-OK status refuses the request
    // there (the HTTP status of its code, in refusal_response's shape) and closes the
    // connection: a server that authenticates callers refuses a keyless upload unread.
    std::function<absl::Status(const HeaderView& header)> admit_body;
    // Optional: the response for a request refused by the server itself (429 above), given its
    // target, so an API with its own error shape answers in it. Null: a Google error.
    std::function<HttpResponse(std::string_view target, const absl::Status& status)>
        refusal_response;
    // One info line per answered request ("access", with method, path, status, bytes,
    // durationMs, remote and requestId as fields: common/logging.h); false: at debug level.
    bool access_log = false;
    absl::Duration idle_timeout = absl::Seconds(60);
    // From a request's first byte to the end of its header.
    absl::Duration header_timeout = absl::Seconds(10);
    // From the end of a request's header to the end of its body.
    absl::Duration body_timeout = absl::Seconds(30);
    absl::Duration write_timeout = absl::Seconds(30);
    // Required. Called for every well-formed request, on an io thread (see handler.h: it must
    // not block). The server keeps a copy; what it captures must outlive the server (or be
    // owned by it, e.g. Router::AsHandler's shared_ptr).
    Handler handler;
  };

  // Counters since Create, for tests and metrics.
  struct Stats {
    int64_t connections_accepted = 0;  // including those refused for max_connections
    int64_t connections_active = 0;
    int64_t connections_refused = 0;  // over max_connections or max_connections_per_peer
    int64_t connections_refused_per_peer = 0;  // ...of which over max_connections_per_peer
    int64_t accept_failures = 0;               // accept() errors (each followed by a back-off)
    int64_t requests = 0;                      // requests that reached the handler
    int64_t refused_body_bytes = 0;            // requests refused by max_in_flight_body_bytes
    int64_t body_bytes_in_flight = 0;          // now
  };

  // Binds the listeners and starts the io threads. INVALID_ARGUMENT for bad options (no listener,
  // bad address, no handler, socket path too long); UNAVAILABLE when a listener cannot bind
  // (address in use, permission denied).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const Options& options);

  // Shutdown(absl::ZeroDuration()) if Shutdown was not called.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound TCP port (the real one when Options::tcp_port was 0); 0 without a TCP listener.
  int port() const;
  // The unix socket path, or "" without one.
  const std::string& unix_socket_path() const;
  Stats stats() const;

  // Graceful stop; blocks up to `drain_timeout` (plus a few milliseconds to close). Idempotent.
  // After it returns: no io thread runs, no handler is being called, and a Responder still held
  // by a handler does nothing when called.
  void Shutdown(absl::Duration drain_timeout);

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::http
