// HttpClient::Download: streams a (possibly multi-gigabyte) body, in pieces of at most 64 KiB as
// they arrive, to a caller's sink.
#include <array>

#include "common/http/google_error.h"
#include "common/http/http_client_connection.h"
#include "fmt/format.h"

namespace tessera::http::internal {

namespace {

constexpr int kMaxRedirects = 5;
constexpr size_t kMaxErrorBodyBytes = 64 << 10;

bool IsRedirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

absl::Status Download(std::string_view url_text,
                      const std::function<absl::Status(std::string_view)>& sink, int64_t max_bytes,
                      SteadyClock::time_point deadline, const DownloadSettings& settings,
                      const std::function<bool()>& stopped) {
  if (max_bytes < 0) return absl::InvalidArgumentError("Download: negative max_bytes");
  absl::StatusOr<Url> url = ParseUrl(url_text);
  if (!url.ok()) return url.status();
  for (int redirects = 0;; ++redirects) {
    if (url->scheme == Url::Scheme::kUnix) {
      return absl::InvalidArgumentError(
          fmt::format("Download needs an http(s) URL, not {}", url->ToString()));
    }
    const std::string where = url->ToString();
    TlsSettings tls;
    if (url->scheme == Url::Scheme::kHttps) {
      absl::StatusOr<TlsSettings> configured = settings.tls();
      if (!configured.ok()) return configured.status();
      tls = *configured;
    }
    absl::StatusOr<std::unique_ptr<ClientConnection>> connection =
        ClientConnection::Open(*url, tls, DeadlineAfter(settings.connect_timeout), deadline,
                               settings.peer_filter);
    if (!connection.ok()) return connection.status();
    ClientConnection& c = **connection;

    bhttp::request<bhttp::empty_body> request(bhttp::verb::get, url->target, 11);
    request.set(bhttp::field::host, url->HostHeader());
    request.set(bhttp::field::user_agent, settings.user_agent);
    request.set(bhttp::field::accept_encoding, "identity");
    request.keep_alive(false);
    if (absl::Status s = c.WriteRequest(request, deadline); !s.ok()) return s;

    bhttp::response_parser<bhttp::empty_body> header_parser;
    header_parser.header_limit(static_cast<uint32_t>(settings.max_header_bytes));
    // Limits are set per outcome below, after the header (Beast checks a Content-Length against
    // the limit when the header completes, and only then).
    header_parser.body_limit(boost::none);
    if (absl::Status s = c.ReadHeader(header_parser, deadline, stopped); !s.ok()) return s;
    const unsigned status = header_parser.get().result_int();

    if (IsRedirect(status)) {
      if (redirects == kMaxRedirects) {
        return absl::FailedPreconditionError(
            fmt::format("GET {}: more than {} redirects", url_text, kMaxRedirects));
      }
      const auto location = header_parser.get().find(bhttp::field::location);
      if (location == header_parser.get().end()) {
        return absl::UnavailableError(
            fmt::format("GET {}: redirect {} without a Location", where, status));
      }
      absl::StatusOr<Url> next = ResolveRedirect(
          *url, std::string_view(location->value().data(), location->value().size()));
      if (!next.ok()) {
        return absl::UnavailableError(
            fmt::format("GET {}: bad redirect: {}", where, std::string(next.status().message())));
      }
      url = *std::move(next);
      continue;  // `connection` closes here
    }

    if (status < 200 || status >= 300) {
      bhttp::response_parser<bhttp::string_body> error_parser(std::move(header_parser));
      error_parser.body_limit(kMaxErrorBodyBytes);
      (void)c.ReadRest(error_parser, deadline);  // the status alone is enough if this fails
      const absl::Status error =
          StatusFromHttpResponse(static_cast<int>(status), error_parser.get().body());
      return absl::Status(error.code(),
                          fmt::format("GET {}: {}", where, std::string(error.message())));
    }

    const auto too_large = [&] {
      return absl::ResourceExhaustedError(
          fmt::format("GET {}: the body is larger than the limit of {} bytes", where, max_bytes));
    };
    if (const auto length = header_parser.content_length();
        length && *length > static_cast<uint64_t>(max_bytes)) {
      return too_large();
    }
    // The limit is counted here, on the bytes handed over: Beast's body_limit counts what its
    // read buffer holds, again on every piece while a buffer_body takes it in pieces.
    bhttp::response_parser<bhttp::buffer_body> body_parser(std::move(header_parser));
    body_parser.body_limit(boost::none);
    std::array<char, 64 << 10> piece;
    int64_t received = 0;
    while (!body_parser.is_done()) {
      // Asked here too: a read that finds bytes waiting returns before the 20 ms watch looks.
      if (stopped && stopped()) {
        return absl::CancelledError(fmt::format("GET {}: the download was stopped", where));
      }
      body_parser.get().body().data = piece.data();
      body_parser.get().body().size = piece.size();
      absl::Status read = c.ReadSomeBody(body_parser, deadline, stopped);
      if (!read.ok()) return read;
      const size_t n = piece.size() - body_parser.get().body().size;
      received += static_cast<int64_t>(n);
      if (received > max_bytes) return too_large();
      if (n > 0) {
        if (absl::Status taken = sink(std::string_view(piece.data(), n)); !taken.ok()) {
          return taken;
        }
      }
    }
    return absl::OkStatus();
  }
}

}  // namespace tessera::http::internal
