// A synchronous HTTP/1.1 client (Boost.Beast underneath, hidden behind a pimpl): the server's
// client of its replicas (unix socket or TCP), the CLI's client of the server, and artifact
// downloads over http(s). Transport only.
//
// - One client per base URL: "http://host:port", "https://host:port" or "unix:/path/to.sock".
// - A pool of keep-alive connections: concurrent Send() calls each take their own connection and
//   give it back afterwards. A pooled connection the peer has closed is detected before reuse and
//   replaced. If a reused connection still fails, the request is retried once on a new
//   connection, but only when that is safe: the request was not (completely) sent, or the method
//   is idempotent (GET, HEAD, PUT, DELETE, OPTIONS) and not a byte of response came back. A POST
//   that reached a peer which then died is never silently resent.
// - Every call has a deadline: Send() never blocks past its timeout (plus a few milliseconds).
// - Errors: UNAVAILABLE when the peer cannot be reached, refuses, resets or closes before the
//   response is complete (e.g. a replica killed with kill -9 mid-request: reported as soon as the
//   kernel closes its socket); DEADLINE_EXCEEDED when the timeout passes; RESOURCE_EXHAUSTED when
//   the response body exceeds max_response_body_bytes; INVALID_ARGUMENT for a bad request.
//   An HTTP error status is NOT an error here: Send() returns the response, and
//   StatusFromHttpResponse() (google_error.h) turns it into a Status where wanted.
// - https verifies the peer's certificate chain and host name against the system trust store
//   (plus Options::ca_file) unless verify_tls_peer is false.
//
// Thread safety: every method may be called concurrently from any number of threads. Calls run
// entirely on the calling thread (no background threads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/cancellation.h"
#include "common/http/http_types.h"

namespace tessera::http {

class HttpClient {
 public:
  struct Options {
    // Where Send() goes: "http://host:port", "https://host:port", "unix:/path/to.sock". A path in
    // the URL is ignored: requests carry their own target. May be empty for a client used only
    // for Download().
    std::string base_url;
    // Bounds the TCP (and TLS) connect of one new connection; the call's own deadline still
    // applies. A connect that times out is UNAVAILABLE (the peer is unreachable).
    absl::Duration connect_timeout = absl::Seconds(5);
    size_t max_response_body_bytes = 256 << 20;
    size_t max_response_header_bytes = 64 << 10;
    // Idle pooled connections kept at most; more are closed after use.
    int max_idle_connections = 64;
    // A pooled connection idle longer than this is closed instead of reused. Keep it below the
    // server's idle timeout (HttpServer default 60 s).
    absl::Duration max_idle_time = absl::Seconds(30);
    // https: verify the server certificate (chain and host name). Only tests turn this off.
    bool verify_tls_peer = true;
    // https: a PEM file of extra trusted certificates, in addition to the system store.
    std::string ca_file;
    std::string user_agent = "tessera";
    // Called with every address a connection is about to be made to (after DNS resolution,
    // for Send and for each Download hop, redirects included), as an IP literal. An
    // address it refuses is skipped; when it refuses them all, the connect fails with its first
    // refusal. Resolution happens once and the connect uses the checked addresses, so a name
    // cannot rebind between check and use. Unix sockets are not filtered. Empty: any address.
    std::function<absl::Status(std::string_view ip)> peer_filter;
  };

  struct Stats {
    int64_t connections_opened = 0;  // new connections made (a reused one is not counted)
    int64_t retries = 0;             // requests resent after a stale pooled connection failed
  };

  // INVALID_ARGUMENT for a bad base URL; NOT_FOUND / INVALID_ARGUMENT for an unreadable ca_file.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(const Options& options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` (method, target starting with '/', headers, body) to the base URL and returns
  // the response, whatever its HTTP status. Host, Content-Length and User-Agent are set unless
  // the request has them. The body is sent from `request` without a copy.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Duration timeout);
  // The same, sending `body` instead of request.body: for a large body the caller keeps (a
  // predict body it may retry on another replica), without copying it into a request.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, std::string_view body,
                                    absl::Duration timeout);
  // The same, abandoned when `cancel` (optional, not owned) fires: the connection is closed (the
  // peer sees its client go away) and the call returns CANCELLED within a few milliseconds.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, std::string_view body,
                                    absl::Duration timeout, const CancellationToken* cancel);

  // GETs `url` (http:// or https://; not limited to the base URL) and gives its body to `sink`
  // piece by piece as it arrives (at most 64 KiB each, in order; constant memory whatever the
  // size). Follows up to 5 redirects (301, 302, 303, 307, 308). RESOURCE_EXHAUSTED when the body
  // is larger than `max_bytes` (from Content-Length, before the body, or while reading); an HTTP
  // error status becomes the matching Status (StatusFromHttpResponse); the whole download,
  // redirects included, must finish within `timeout`. An error from `sink` ends the download at
  // once (the connection is closed) and is returned as it is. `stopped` (optional) is asked
  // before each piece and every 20 ms while the download waits for the server: once it says yes,
  // the download ends CANCELLED, whether the body flows or the server stalls.
  using ByteSink = std::function<absl::Status(std::string_view bytes)>;
  absl::Status Download(std::string_view url, const ByteSink& sink, int64_t max_bytes,
                        absl::Duration timeout, const std::function<bool()>& stopped = nullptr);

  Stats stats() const;
  // Closes every idle pooled connection.
  void CloseIdleConnections();

 private:
  class Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::http
