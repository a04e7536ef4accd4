#include "common/http/http_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <cstring>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/http/server_connection.h"
#include "common/http/url.h"

namespace tessera::http {

namespace internal {

bool ServerCore::Register(const std::shared_ptr<ConnectionBase>& connection) {
  absl::MutexLock lock(&mu);
  if (draining) return false;
  connections.emplace(connection.get(), connection);
  return true;
}

void ServerCore::Unregister(const ConnectionBase* connection) {
  absl::MutexLock lock(&mu);
  connections.erase(connection);
}

bool ServerCore::AcquirePeer(const std::string& peer) {
  if (peer.empty()) return true;
  absl::MutexLock lock(&peers_mu);
  int& count = connections_per_peer[peer];
  if (count >= options.max_connections_per_peer) {
    if (count == 0) connections_per_peer.erase(peer);
    return false;
  }
  ++count;
  return true;
}

void ServerCore::ReleasePeer(const std::string& peer) {
  if (peer.empty()) return;
  absl::MutexLock lock(&peers_mu);
  const auto it = connections_per_peer.find(peer);
  if (it != connections_per_peer.end() && --it->second <= 0) connections_per_peer.erase(it);
}

void ServerCore::TrackLink(const std::shared_ptr<ResponseLink>& link) {
  absl::MutexLock lock(&links_mu);
  if (links.size() >= prune_links_at) {
    std::erase_if(links, [](const std::weak_ptr<ResponseLink>& l) { return l.expired(); });
    prune_links_at = std::max<size_t>(64, 2 * links.size());
  }
  links.push_back(link);
}

std::vector<std::shared_ptr<ResponseLink>> ServerCore::OutstandingLinks() {
  absl::MutexLock lock(&links_mu);
  std::vector<std::shared_ptr<ResponseLink>> out;
  for (const std::weak_ptr<ResponseLink>& l : links) {
    if (auto link = l.lock()) out.push_back(std::move(link));
  }
  links.clear();
  return out;
}

void ResponseLink::Deliver(HttpResponse&& response) {
  // Posting under the lock: Disconnect() cannot return while a post is under way, so nothing is
  // posted to an io_context the server is about to destroy.
  absl::MutexLock lock(&mu_);
  if (connection_ == nullptr) return;
  connection_->PostResponse(std::move(response));
  connection_.reset();
}

void ResponseLink::Disconnect() {
  std::shared_ptr<ConnectionBase> dropped;
  {
    absl::MutexLock lock(&mu_);
    dropped = std::move(connection_);
    connection_.reset();
  }
  // `dropped` may be the last reference: the connection is destroyed here, outside the lock.
}

bhttp::response<bhttp::string_body> ToBeastResponse(HttpResponse&& response, bool head_request) {
  int status = response.status;
  if (status < 200 || status > 599) {
    spdlog::error("http: handler returned invalid status {}; sending 500", status);
    response = GoogleErrorResponse(
        500, absl::InternalError(fmt::format("handler returned invalid HTTP status {}", status)));
    status = 500;
  }
  bhttp::response<bhttp::string_body> out;
  out.version(11);
  out.result(static_cast<unsigned>(status));
  if (bhttp::int_to_status(static_cast<unsigned>(status)) == bhttp::status::unknown) {
    out.reason(status == 499 ? "Client Closed Request" : "Unknown");
  }
  for (const auto& [name, value] : response.headers) {
    // Framing is the server's job; CR/LF in a header would let a caller forge headers.
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding") ||
        EqualsIgnoreCase(name, "Connection") || name.empty() ||
        name.find_first_of("\r\n: ") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      continue;
    }
    out.insert(name, value);
  }
  if (!response.content_type.empty() &&
      response.content_type.find_first_of("\r\n") == std::string::npos) {
    out.set(bhttp::field::content_type, response.content_type);
  }
  const bool no_body_allowed = status == 204 || status == 304;
  if (no_body_allowed) {
    out.content_length(boost::none);
  } else if (head_request) {
    out.content_length(response.body.size());  // what a GET would send; no body on the wire
  } else {
    out.body() = std::move(response.body);
    out.prepare_payload();
  }
  return out;
}

absl::StatusOr<HttpRequest> FromBeastRequest(bhttp::request<bhttp::string_body>&& message,
                                             const std::string& remote_address) {
  HttpRequest request;
  request.target = std::string(message.target());
  absl::StatusOr<ParsedTarget> parsed = ParseTarget(request.target);
  if (!parsed.ok()) return parsed.status();
  request.method = std::string(message.method_string());
  request.path = std::move(parsed->path);
  request.query = std::move(parsed->query);
  for (const auto& field : message) {
    request.headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(message.body());
  request.remote_address = remote_address;
  return request;
}

std::string RefusalResponseBytes(std::string_view message) {
  const std::string request_id = NewRequestId();
  const std::string body =
      GoogleErrorResponse(503, absl::UnavailableError(std::string(message)), request_id).body;
  return fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n{}: {}\r\nConnection: close\r\n\r\n{}",
      body.size(), kRequestIdHeader, request_id, body);
}

}  // namespace internal

namespace {

using internal::asio::ip::tcp;
using UnixProtocol = internal::asio::local::stream_protocol;
namespace asio = internal::asio;

// The peer as "address:port" (for logs and HttpRequest::remote_address) and its address alone
// (the key of max_connections_per_peer).
struct TcpPeer {
  std::string remote;
  std::string address;
};

TcpPeer TcpRemote(const tcp::socket& socket) {
  boost::system::error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) return {"?", "?"};
  asio::ip::address address = endpoint.address();
  // An IPv4 client of a dual-stack listener is one peer whichever way it is written.
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  std::string text = address.to_string();
  std::string remote = address.is_v6() ? fmt::format("[{}]:{}", text, endpoint.port())
                                       : fmt::format("{}:{}", text, endpoint.port());
  return {std::move(remote), std::move(text)};
}

// Fails unless `path` is free for a new socket: replaces a stale socket file, refuses a live one.
absl::Status PrepareUnixPath(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(
        fmt::format("unix socket path is {} bytes, the limit is {}: {}", path.size(),
                    sizeof(sockaddr_un::sun_path) - 1, path));
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(fmt::format("{} exists and is not a unix socket", path));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (live) {
      return absl::UnavailableError(
          fmt::format("another server is listening on unix socket {}", path));
    }
  }
  ::unlink(path.c_str());
  return absl::OkStatus();
}

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(const Options& options) : core_(options) {}

  ~Impl() { Shutdown(absl::ZeroDuration()); }

  absl::Status Start() {
    const Options& o = core_.options;
    if (!o.handler) return absl::InvalidArgumentError("HttpServer: no handler");
    if (o.tcp_address.empty() && o.unix_socket_path.empty()) {
      return absl::InvalidArgumentError("HttpServer: neither a TCP address nor a unix socket");
    }
    if (o.io_threads < 1 || o.max_connections < 1 || o.max_connections_per_peer < 1 ||
        o.max_body_bytes == 0 || o.max_header_bytes == 0 || o.max_header_bytes > (1u << 31)) {
      return absl::InvalidArgumentError(
          "HttpServer: io_threads, max_connections, max_connections_per_peer, max_body_bytes "
          "and max_header_bytes must be positive (max_header_bytes at most 2 GiB)");
    }
    if (o.header_timeout <= absl::ZeroDuration() || o.body_timeout <= absl::ZeroDuration() ||
        o.idle_timeout <= absl::ZeroDuration() || o.write_timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          "HttpServer: header_timeout, body_timeout, idle_timeout and write_timeout must be "
          "positive");
    }
    if (o.tcp_port < 0 || o.tcp_port > 65535) {
      return absl::InvalidArgumentError(fmt::format("HttpServer: bad port {}", o.tcp_port));
    }
    if (absl::Status s = MakeTlsContext(); !s.ok()) return s;
    ioc_.emplace(o.io_threads);
    if (!o.tcp_address.empty()) {
      boost::system::error_code ec;
      const asio::ip::address address = asio::ip::make_address(o.tcp_address, ec);
      if (ec) {
        return absl::InvalidArgumentError(fmt::format(
            "HttpServer: \"{}\" is not an IPv4 or IPv6 address literal", o.tcp_address));
      }
      const tcp::endpoint endpoint(address, static_cast<uint16_t>(o.tcp_port));
      tcp_acceptor_.emplace(asio::make_strand(*ioc_));
      const auto fail = [&](std::string_view what) {
        return absl::UnavailableError(
            fmt::format("cannot listen on {}: {}: {}", Describe(endpoint), what, ec.message()));
      };
      tcp_acceptor_->open(endpoint.protocol(), ec);
      if (ec) return fail("open");
      tcp_acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
      tcp_acceptor_->bind(endpoint, ec);
      if (ec) return fail("bind");
      tcp_acceptor_->listen(o.listen_backlog, ec);
      if (ec) return fail("listen");
      port_ = tcp_acceptor_->local_endpoint(ec).port();
    }
    if (!o.unix_socket_path.empty()) {
      if (absl::Status s = PrepareUnixPath(o.unix_socket_path); !s.ok()) return s;
      boost::system::error_code ec;
      const UnixProtocol::endpoint endpoint(o.unix_socket_path);
      unix_acceptor_.emplace(asio::make_strand(*ioc_));
      const auto fail = [&](std::string_view what) {
        return absl::UnavailableError(fmt::format("cannot listen on unix socket {}: {}: {}",
                                                  o.unix_socket_path, what, ec.message()));
      };
      unix_acceptor_->open(endpoint.protocol(), ec);
      if (ec) return fail("open");
      unix_acceptor_->bind(endpoint, ec);
      if (ec) return fail("bind");
      unix_path_ = o.unix_socket_path;  // ours now: removed at shutdown
      unix_acceptor_->listen(o.listen_backlog, ec);
      if (ec) return fail("listen");
    }
    if (tcp_acceptor_) AcceptTcp();
    if (unix_acceptor_) AcceptUnix();
    work_.emplace(ioc_->get_executor());
    threads_.reserve(o.io_threads);
    for (int i = 0; i < o.io_threads; ++i) {
      threads_.emplace_back([this] { RunIoThread(); });
    }
    state_ = State::kServing;
    spdlog::info("http server listening on {}{}{}",
                 port_ > 0 ? fmt::format("{}:{}", o.tcp_address, port_) : "",
                 port_ > 0 && !unix_path_.empty() ? " and " : "",
                 unix_path_.empty() ? "" : "unix:" + unix_path_);
    return absl::OkStatus();
  }

  int port() const { return port_; }
  const std::string& unix_socket_path() const { return unix_path_; }

  Stats stats() const {
    Stats s;
    s.connections_accepted = core_.connections_accepted.load(std::memory_order_relaxed);
    s.connections_active = core_.connections_active.load(std::memory_order_relaxed);
    s.connections_refused = core_.connections_refused.load(std::memory_order_relaxed);
    s.connections_refused_per_peer =
        core_.connections_refused_per_peer.load(std::memory_order_relaxed);
    s.accept_failures = core_.accept_failures.load(std::memory_order_relaxed);
    s.requests = core_.requests.load(std::memory_order_relaxed);
    s.refused_body_bytes = core_.body_bytes.refused();
    s.body_bytes_in_flight = core_.body_bytes.in_use();
    return s;
  }

  void Shutdown(absl::Duration drain_timeout) {
    if (state_ == State::kStopped) return;
    if (state_ == State::kNew) {  // Start() failed half-way: nothing runs yet
      state_ = State::kStopped;
      TearDown();
      ReleaseResources();
      return;
    }
    for (const std::thread& t : threads_) {
      if (t.get_id() == std::this_thread::get_id()) {
        spdlog::error("HttpServer::Shutdown called from an io thread (a handler); ignored");
        return;
      }
    }
    state_ = State::kStopped;
    const absl::Time deadline = absl::Now() + drain_timeout;
    std::vector<std::shared_ptr<internal::ConnectionBase>> live;
    {
      absl::MutexLock lock(&core_.mu);
      core_.draining = true;
      live = LiveConnections();
    }
    // 1. Stop accepting (on the acceptors' strands; bounded in case every io thread is busy).
    absl::Notification closed;
    int pending = (tcp_acceptor_ ? 1 : 0) + (unix_acceptor_ ? 1 : 0);
    std::atomic<int> remaining{pending};
    const auto close_one = [&](auto& acceptor) {
      asio::post(acceptor.get_executor(), [&] {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        if (remaining.fetch_sub(1) == 1) closed.Notify();
      });
    };
    if (tcp_acceptor_) close_one(*tcp_acceptor_);
    if (unix_acceptor_) close_one(*unix_acceptor_);
    if (pending > 0) closed.WaitForNotificationWithDeadline(deadline + absl::Milliseconds(100));
    // 2. Idle connections close now; busy ones after their response.
    for (const auto& c : live) c->BeginDrain();
    live.clear();
    {
      absl::MutexLock lock(&core_.mu);
      core_.mu.AwaitWithDeadline(
          absl::Condition(
              +[](ServerCoreConnections* m) { return m->empty(); }, &core_.connections),
          deadline);
      live = LiveConnections();
    }
    // 3. Whatever is left is cut off.
    if (!live.empty() && drain_timeout > absl::ZeroDuration()) {
      spdlog::warn("http server: {} connection(s) still busy after the drain timeout; closing",
                   live.size());
    }
    for (const auto& c : live) c->ForceClose();
    TearDown();
    for (const auto& link : core_.OutstandingLinks()) link->Disconnect();
    live.clear();
    ReleaseResources();
  }

 private:
  using ServerCoreConnections =
      std::unordered_map<const internal::ConnectionBase*, std::weak_ptr<internal::ConnectionBase>>;

  enum class State {
    kNew,      // Start() has not finished
    kServing,  // accepting and serving
    kStopped,  // Shutdown() ran (or is running): io threads joined, io_context gone
  };

  absl::Status MakeTlsContext() {
    const Options& o = core_.options;
    if (o.tls_certificate_file.empty() && o.tls_private_key_file.empty()) return absl::OkStatus();
    if (o.tls_certificate_file.empty() || o.tls_private_key_file.empty()) {
      return absl::InvalidArgumentError("HttpServer: TLS needs both a certificate and a key file");
    }
    namespace ssl = asio::ssl;
    auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    context->use_certificate_chain_file(o.tls_certificate_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(fmt::format("cannot load the TLS certificate {}: {}",
                                                    o.tls_certificate_file, ec.message()));
    }
    context->use_private_key_file(o.tls_private_key_file, ssl::context::pem, ec);
    if (ec) {
      return absl::InvalidArgumentError(fmt::format("cannot load the TLS private key {}: {}",
                                                    o.tls_private_key_file, ec.message()));
    }
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
      return absl::InvalidArgumentError(
          fmt::format("the TLS private key {} does not match the certificate {}",
                      o.tls_private_key_file, o.tls_certificate_file));
    }
    core_.tls_context = std::move(context);
    return absl::OkStatus();
  }

  static std::string Describe(const tcp::endpoint& e) {
    return e.address().is_v6() ? fmt::format("[{}]:{}", e.address().to_string(), e.port())
                               : fmt::format("{}:{}", e.address().to_string(), e.port());
  }

  std::vector<std::shared_ptr<internal::ConnectionBase>> LiveConnections()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_.mu) {
    std::vector<std::shared_ptr<internal::ConnectionBase>> out;
    out.reserve(core_.connections.size());
    for (const auto& [ptr, weak] : core_.connections) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  }

  // Stops the io threads and joins them. Connections still alive are not touched.
  void TearDown() {
    work_.reset();
    if (ioc_) ioc_->stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  // After TearDown: closes the listeners, destroys the io_context (and with its queued handlers
  // the connections they hold), removes the unix socket file.
  void ReleaseResources() {
    tcp_acceptor_.reset();
    unix_acceptor_.reset();
    ioc_.reset();
    if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
  }

  void RunIoThread() {
    while (true) {
      try {
        ioc_->run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("http server io thread: {}", e.what());
      }
    }
  }

  // One acceptor's back-off after accept errors, touched only on that acceptor's strand.
  struct AcceptBackoff {
    static constexpr std::chrono::milliseconds kFirst{10};
    static constexpr std::chrono::milliseconds kMax{1000};
    std::chrono::milliseconds next = kFirst;
    void Reset() { next = kFirst; }
  };

  // Accept failed: retry after a growing pause (10 ms doubling to 1 s). Out of file descriptors
  // (EMFILE, ENFILE) the pending connection stays in the backlog and accept fails again at once:
  // retrying without a pause would spin an io thread at 100% and starve every connection.
  template <class Acceptor, class Again>
  void HandleAcceptError(const boost::system::error_code& ec, Acceptor& acceptor,
                         AcceptBackoff& backoff, Again again) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    core_.accept_failures.fetch_add(1, std::memory_order_relaxed);
    const std::chrono::milliseconds pause = backoff.next;
    backoff.next = std::min(backoff.next * 2, AcceptBackoff::kMax);
    spdlog::warn("http server: accept failed: {}; retrying in {} ms", ec.message(), pause.count());
    auto timer = std::make_shared<asio::steady_timer>(acceptor.get_executor(), pause);
    timer->async_wait([timer, again](const boost::system::error_code&) { again(); });
  }

  // Writes a 503 (best effort, never blocking: the socket is non-blocking and the answer fits a
  // fresh socket's buffer) and closes.
  template <class Socket>
  static void Refuse(Socket& socket, std::string_view message, bool tls) {
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    // A TLS client cannot read plain bytes before its handshake: it only sees the close.
    if (!tls) {
      const std::string bytes = internal::RefusalResponseBytes(message);
      socket.write_some(asio::buffer(bytes), ignored);
    }
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
  }

  // Takes a freshly accepted socket: refuses it over max_connections or over its peer's
  // max_connections_per_peer (`peer` empty: not counted), else starts a connection.
  template <class Stream, class Socket>
  void Adopt(Socket socket, std::string remote, std::string peer) {
    constexpr bool kTls = std::is_same_v<Stream, internal::TlsStream>;
    core_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    if (core_.connections_active.load(std::memory_order_relaxed) >= core_.options.max_connections) {
      core_.connections_refused.fetch_add(1, std::memory_order_relaxed);
      Refuse(socket, "too many connections", kTls);
      return;
    }
    if (!core_.AcquirePeer(peer)) {
      core_.connections_refused.fetch_add(1, std::memory_order_relaxed);
      core_.connections_refused_per_peer.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("http server: refusing {}: {} connections from {} already", remote,
                    core_.options.max_connections_per_peer, peer);
      Refuse(socket,
             fmt::format("too many connections from {} (the limit is {} per address)", peer,
                         core_.options.max_connections_per_peer),
             kTls);
      return;
    }
    // From here the connection owns the peer count: its destructor releases it.
    std::shared_ptr<internal::Connection<Stream>> connection;
    if constexpr (kTls) {
      connection = std::make_shared<internal::Connection<Stream>>(
          &core_, Stream(internal::TcpStream(std::move(socket)), *core_.tls_context),
          std::move(remote), std::move(peer));
    } else {
      connection = std::make_shared<internal::Connection<Stream>>(
          &core_, Stream(std::move(socket)), std::move(remote), std::move(peer));
    }
    if (!core_.Register(connection)) return;  // draining: dropped, which closes it
    connection->Start();
  }

  void AcceptTcp() {
    tcp_acceptor_->async_accept(asio::make_strand(*ioc_),
                                [this](boost::system::error_code ec, tcp::socket socket) {
                                  if (ec) {
                                    HandleAcceptError(ec, *tcp_acceptor_, tcp_backoff_,
                                                      [this] { AcceptTcp(); });
                                    return;
                                  }
                                  tcp_backoff_.Reset();
                                  boost::system::error_code ignored;
                                  socket.set_option(tcp::no_delay(true), ignored);
                                  TcpPeer peer = TcpRemote(socket);
                                  if (core_.tls_context != nullptr) {
                                    Adopt<internal::TlsStream>(std::move(socket),
                                                               std::move(peer.remote),
                                                               std::move(peer.address));
                                  } else {
                                    Adopt<internal::TcpStream>(std::move(socket),
                                                               std::move(peer.remote),
                                                               std::move(peer.address));
                                  }
                                  AcceptTcp();
                                });
  }

  void AcceptUnix() {
    unix_acceptor_->async_accept(asio::make_strand(*ioc_), [this](boost::system::error_code ec,
                                                                  UnixProtocol::socket socket) {
      if (ec) {
        HandleAcceptError(ec, *unix_acceptor_, unix_backoff_, [this] { AcceptUnix(); });
        return;
      }
      unix_backoff_.Reset();
      Adopt<internal::UnixStream>(std::move(socket), "unix", /*peer=*/"");
      AcceptUnix();
    });
  }

  internal::ServerCore core_;
  State state_ = State::kNew;  // owner thread only
  int port_ = 0;
  std::string unix_path_;
  // Declared before the acceptors and reset explicitly in Shutdown, after them: connections
  // die with it and still use `core_`.
  std::optional<asio::io_context> ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::optional<tcp::acceptor> tcp_acceptor_;
  std::optional<UnixProtocol::acceptor> unix_acceptor_;
  AcceptBackoff tcp_backoff_;   // on tcp_acceptor_'s strand
  AcceptBackoff unix_backoff_;  // on unix_acceptor_'s strand
  std::vector<std::thread> threads_;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { impl_->Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const Options& options) {
  auto impl = std::make_unique<Impl>(options);
  if (absl::Status s = impl->Start(); !s.ok()) return s;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port(); }
const std::string& HttpServer::unix_socket_path() const { return impl_->unix_socket_path(); }
HttpServer::Stats HttpServer::stats() const { return impl_->stats(); }
void HttpServer::Shutdown(absl::Duration drain_timeout) { impl_->Shutdown(drain_timeout); }

}  // namespace tessera::http
