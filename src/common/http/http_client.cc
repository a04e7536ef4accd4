#include "common/http/http_client.h"

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/http/http_client_connection.h"
#include "common/http/url.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::http {

namespace internal {

SteadyClock::time_point DeadlineAfter(absl::Duration d) {
  const absl::Duration capped = std::clamp(d, absl::ZeroDuration(), absl::Hours(24 * 365));
  return SteadyClock::now() +
         std::chrono::duration_cast<SteadyClock::duration>(absl::ToChronoNanoseconds(capped));
}

}  // namespace internal

namespace {

using internal::ClientConnection;
using internal::SteadyClock;
namespace bhttp = internal::bhttp;

bool IsIdempotent(bhttp::verb verb) {
  return verb == bhttp::verb::get || verb == bhttp::verb::head || verb == bhttp::verb::put ||
         verb == bhttp::verb::delete_ || verb == bhttp::verb::options;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

class HttpClient::Impl {
 public:
  explicit Impl(const Options& options) : options_(options) {}

  absl::Status Init() {
    if (!options_.base_url.empty()) {
      absl::StatusOr<Url> base = ParseUrl(options_.base_url);
      if (!base.ok()) return base.status();
      base_ = *std::move(base);
    }
    const bool https = base_.has_value() && base_->scheme == Url::Scheme::kHttps;
    if (options_.max_idle_connections < 0 || options_.max_response_header_bytes == 0 ||
        options_.max_response_header_bytes > (1u << 31)) {
      return absl::InvalidArgumentError(
          "HttpClient: max_idle_connections must be >= 0 and max_response_header_bytes in "
          "(0, 2 GiB]");
    }
    // OpenSSL set-up costs ~100 ms on a slow machine: done up front only for https clients,
    // otherwise on the first https download.
    if (!options_.ca_file.empty() || https) {
      if (absl::StatusOr<internal::TlsSettings> tls = Tls(); !tls.ok()) return tls.status();
    }
    return absl::OkStatus();
  }

  // The TLS settings, creating the context on first use. Thread-safe.
  absl::StatusOr<internal::TlsSettings> Tls() {
    absl::MutexLock lock(&tls_mu_);
    if (!tls_status_.ok()) return tls_status_;
    if (tls_context_ == nullptr) {
      tls_status_ = MakeTlsContext();
      if (!tls_status_.ok()) return tls_status_;
    }
    internal::TlsSettings tls;
    tls.context = tls_context_.get();
    tls.verify_peer = options_.verify_tls_peer;
    return tls;
  }

  absl::Status MakeTlsContext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tls_mu_) {
    namespace ssl = internal::asio::ssl;
    auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    context->set_default_verify_paths(ec);
    if (ec) spdlog::warn("HttpClient: no system certificate store: {}", ec.message());
    if (!options_.ca_file.empty()) {
      if (!std::filesystem::exists(options_.ca_file)) {
        return absl::NotFoundError(fmt::format("CA file {} does not exist", options_.ca_file));
      }
      context->load_verify_file(options_.ca_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            fmt::format("cannot load CA file {}: {}", options_.ca_file, ec.message()));
      }
    }
    tls_context_ = std::move(context);
    return absl::OkStatus();
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, std::string_view body,
                                    absl::Duration timeout, const CancellationToken* cancel) {
    if (!base_) {
      return absl::FailedPreconditionError("HttpClient::Send needs Options::base_url");
    }
    if (request.target.empty() || request.target.front() != '/' || HasLineBreak(request.target) ||
        request.target.find(' ') != std::string::npos) {
      return absl::InvalidArgumentError(
          fmt::format("bad request target \"{}\": must start with '/', no spaces or line breaks",
                      request.target));
    }
    const SteadyClock::time_point deadline = internal::DeadlineAfter(timeout);
    bhttp::request<bhttp::span_body<const char>> message;
    message.version(11);
    const bhttp::verb verb = bhttp::string_to_verb(request.method);
    if (verb == bhttp::verb::unknown) {
      if (request.method.empty() || request.method.find_first_of(" \r\n\t") != std::string::npos) {
        return absl::InvalidArgumentError(fmt::format("bad method \"{}\"", request.method));
      }
      message.method_string(request.method);
    } else {
      message.method(verb);
    }
    message.target(request.target);
    for (const auto& [name, value] : request.headers) {
      if (name.empty() || HasLineBreak(name) || name.find_first_of(" :") != std::string::npos ||
          HasLineBreak(value)) {
        return absl::InvalidArgumentError(fmt::format("bad header \"{}\"", name));
      }
      if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding")) {
        continue;  // framing is ours
      }
      message.insert(name, value);
    }
    if (!request.headers.Contains("Host")) message.set(bhttp::field::host, base_->HostHeader());
    if (!request.headers.Contains("User-Agent")) {
      message.set(bhttp::field::user_agent, options_.user_agent);
    }
    message.body() = boost::span<const char>(body.data(), body.size());
    message.prepare_payload();
    const internal::ResponseLimits limits{options_.max_response_body_bytes,
                                          options_.max_response_header_bytes};

    bool fresh_only = false;
    for (int attempt = 0;; ++attempt) {
      if (cancel != nullptr && cancel->cancelled()) {
        return absl::CancelledError("the request was cancelled: its client went away");
      }
      std::unique_ptr<ClientConnection> connection = fresh_only ? nullptr : TakeIdle();
      const bool reused = connection != nullptr;
      if (!reused) {
        internal::TlsSettings tls;
        if (base_->scheme == Url::Scheme::kHttps) {
          absl::StatusOr<internal::TlsSettings> configured = Tls();
          if (!configured.ok()) return configured.status();
          tls = *configured;
        }
        absl::StatusOr<std::unique_ptr<ClientConnection>> opened = ClientConnection::Open(
            *base_, tls, internal::DeadlineAfter(options_.connect_timeout), deadline,
            options_.peer_filter);
        if (!opened.ok()) return opened.status();
        connection = *std::move(opened);
        connections_opened_.fetch_add(1, std::memory_order_relaxed);
      }
      internal::ExchangeInfo info;
      absl::StatusOr<HttpResponse> response =
          connection->RoundTrip(message, limits, deadline, &info, cancel);
      if (response.ok()) {
        if (info.reusable) GiveBack(std::move(connection));
        return response;
      }
      // A reused connection may have been closed by the peer just as we sent: resend once, on
      // a new connection, when the peer cannot have acted on the request.
      const bool safe = !info.request_sent || (IsIdempotent(verb) && !info.response_started);
      if (attempt == 0 && reused && safe &&
          response.status().code() == absl::StatusCode::kUnavailable &&
          SteadyClock::now() < deadline) {
        retries_.fetch_add(1, std::memory_order_relaxed);
        fresh_only = true;
        continue;
      }
      return response.status();
    }
  }

  internal::DownloadSettings DownloadSettings() {
    internal::DownloadSettings settings;
    settings.tls = [this] { return Tls(); };
    settings.connect_timeout = options_.connect_timeout;
    settings.max_header_bytes = options_.max_response_header_bytes;
    settings.user_agent = options_.user_agent;
    settings.peer_filter = options_.peer_filter;
    return settings;
  }

  Stats stats() const {
    Stats s;
    s.connections_opened = connections_opened_.load(std::memory_order_relaxed);
    s.retries = retries_.load(std::memory_order_relaxed);
    return s;
  }

  void CloseIdle() {
    std::vector<std::unique_ptr<ClientConnection>> dropped;
    absl::MutexLock lock(&mu_);
    dropped.swap(idle_);
  }

 private:
  // The most recently used idle connection that is still open, or null.
  std::unique_ptr<ClientConnection> TakeIdle() {
    const auto max_idle = std::chrono::duration_cast<SteadyClock::duration>(
        absl::ToChronoNanoseconds(options_.max_idle_time));
    while (true) {
      std::unique_ptr<ClientConnection> c;
      {
        absl::MutexLock lock(&mu_);
        if (idle_.empty()) return nullptr;
        c = std::move(idle_.back());
        idle_.pop_back();
      }
      if (SteadyClock::now() - c->idle_since() <= max_idle && c->LooksAlive()) return c;
      // Stale or closed by the peer: dropped here (closing it), then try the next.
    }
  }

  void GiveBack(std::unique_ptr<ClientConnection> c) {
    c->set_idle_since(SteadyClock::now());
    absl::MutexLock lock(&mu_);
    if (static_cast<int>(idle_.size()) < options_.max_idle_connections) {
      idle_.push_back(std::move(c));
    }
    // Else `c` is closed when it goes out of scope.
  }

  const Options options_;
  std::optional<Url> base_;
  absl::Mutex tls_mu_;
  std::unique_ptr<internal::asio::ssl::context> tls_context_ ABSL_GUARDED_BY(tls_mu_);
  absl::Status tls_status_ ABSL_GUARDED_BY(tls_mu_);
  std::atomic<int64_t> connections_opened_{0};
  std::atomic<int64_t> retries_{0};
  absl::Mutex mu_;
  std::vector<std::unique_ptr<ClientConnection>> idle_ ABSL_GUARDED_BY(mu_);
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(const Options& options) {
  auto impl = std::make_unique<Impl>(options);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request, absl::Duration timeout) {
  return impl_->Send(request, request.body, timeout, nullptr);
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request, std::string_view body,
                                              absl::Duration timeout) {
  return impl_->Send(request, body, timeout, nullptr);
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request, std::string_view body,
                                              absl::Duration timeout,
                                              const CancellationToken* cancel) {
  return impl_->Send(request, body, timeout, cancel);
}

absl::Status HttpClient::Download(std::string_view url, const ByteSink& sink, int64_t max_bytes,
                                  absl::Duration timeout, const std::function<bool()>& stopped) {
  return internal::Download(url, sink, max_bytes, internal::DeadlineAfter(timeout),
                            impl_->DownloadSettings(), stopped);
}

HttpClient::Stats HttpClient::stats() const { return impl_->stats(); }
void HttpClient::CloseIdleConnections() { impl_->CloseIdle(); }

}  // namespace tessera::http
