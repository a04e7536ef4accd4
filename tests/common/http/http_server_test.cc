// HttpServer over real sockets: round trips, keep-alive, pipelining, concurrency, limits,
// malformed input, timeouts, handler failures and graceful shutdown.
#include "common/http/http_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/http/google_error.h"
#include "common/http/http_client.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "http_test_util.h"
#include "nlohmann/json.hpp"
#include "raw_socket.h"

namespace tessera::http {
namespace {

using testing::ClientFor;
using testing::MakeRequest;
using testing::RawSocket;
using testing::ServerOptions;
using testing::StartServer;
using testing::TcpUrl;
using testing::TempDir;
using testing::WaitFor;

// Describes the request back as JSON.
HttpResponse Echo(HttpRequest&& r) {
  nlohmann::json query = nlohmann::json::object();
  for (const auto& [k, v] : r.query) query[k] = v;
  return JsonResponse(200, {{"method", r.method},
                            {"target", r.target},
                            {"path", r.path},
                            {"query", query},
                            {"x_test", r.headers.GetOr("X-Test", "")},
                            {"body", r.body},
                            {"remote", r.remote_address}});
}

// Threads that answer requests later; joined by the destructor.
class Later {
 public:
  ~Later() { JoinAll(); }
  void Run(std::function<void()> fn) {
    absl::MutexLock lock(&mu_);
    threads_.emplace_back(std::move(fn));
  }
  void JoinAll() {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

TEST(HttpServerTest, RoundTripOverTcp) {
  auto server = StartServer(ServerOptions(WrapSync(Echo)));
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  auto client = ClientFor(TcpUrl(server->port()));
  HttpRequest request = MakeRequest("POST", "/v1/a%20b:predict?x=1&y=two+words", "payload");
  request.headers.Add("x-test", "hello");
  auto response = client->Send(request, absl::Seconds(5));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->content_type, "application/json");
  const auto j = nlohmann::json::parse(response->body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["target"], "/v1/a%20b:predict?x=1&y=two+words");
  EXPECT_EQ(j["path"], "/v1/a b:predict");
  EXPECT_EQ(j["query"]["y"], "two words");
  EXPECT_EQ(j["x_test"], "hello");
  EXPECT_EQ(j["body"], "payload");
  EXPECT_EQ(j["remote"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
}

TEST(HttpServerTest, RoundTripOverUnixSocket) {
  TempDir dir;
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.tcp_address = "";
  options.unix_socket_path = (dir.path() / "replica.sock").string();
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->port(), 0);
  auto client = ClientFor("unix:" + options.unix_socket_path);
  auto response = client->Send(MakeRequest("GET", "/health"), absl::Seconds(5));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(nlohmann::json::parse(response->body)["remote"], "unix");
  server->Shutdown(absl::Seconds(1));
  EXPECT_FALSE(std::filesystem::exists(options.unix_socket_path));  // cleaned up
}

TEST(HttpServerTest, ServesTcpAndUnixTogetherAndReplacesStaleSocketFile) {
  TempDir dir;
  const std::string path = (dir.path() / "s.sock").string();
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.unix_socket_path = path;
  {
    auto first = StartServer(options);
    ASSERT_NE(first, nullptr);
    // A second server on a live socket is refused...
    EXPECT_EQ(HttpServer::Create(options).status().code(), absl::StatusCode::kUnavailable);
  }
  // A regular file is never removed.
  ASSERT_EQ(::close(::open(path.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  EXPECT_EQ(HttpServer::Create(options).status().code(), absl::StatusCode::kFailedPrecondition);
  std::filesystem::remove(path);
  // A stale socket file (its process crashed: bound, never unlinked) is replaced.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  ASSERT_TRUE(std::filesystem::is_socket(path));
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(ClientFor("unix:" + path)->Send(MakeRequest("GET", "/"), absl::Seconds(5)).ok());
  EXPECT_TRUE(
      ClientFor(TcpUrl(server->port()))->Send(MakeRequest("GET", "/"), absl::Seconds(5)).ok());
}

TEST(HttpServerTest, Ipv6Loopback) {
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.tcp_address = "::1";
  auto server = HttpServer::Create(options);
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << server.status();
  auto client = ClientFor("http://[::1]:" + std::to_string((*server)->port()));
  auto response = client->Send(MakeRequest("GET", "/v6"), absl::Seconds(5));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(nlohmann::json::parse(response->body)["remote"].get<std::string>().rfind("[::1]:", 0),
            0u);
}

TEST(HttpServerTest, CreateRejectsBadOptions) {
  HttpServer::Options no_handler = ServerOptions(nullptr);
  EXPECT_EQ(HttpServer::Create(no_handler).status().code(), absl::StatusCode::kInvalidArgument);
  HttpServer::Options no_listener = ServerOptions(WrapSync(Echo));
  no_listener.tcp_address = "";
  EXPECT_EQ(HttpServer::Create(no_listener).status().code(), absl::StatusCode::kInvalidArgument);
  HttpServer::Options bad_address = ServerOptions(WrapSync(Echo));
  bad_address.tcp_address = "not-an-ip";
  EXPECT_EQ(HttpServer::Create(bad_address).status().code(), absl::StatusCode::kInvalidArgument);
  HttpServer::Options long_path = ServerOptions(WrapSync(Echo));
  long_path.unix_socket_path = "/tmp/" + std::string(200, 'x');
  EXPECT_EQ(HttpServer::Create(long_path).status().code(), absl::StatusCode::kInvalidArgument);
  auto server = StartServer(ServerOptions(WrapSync(Echo)));
  HttpServer::Options taken = ServerOptions(WrapSync(Echo));
  taken.tcp_port = server->port();
  EXPECT_EQ(HttpServer::Create(taken).status().code(), absl::StatusCode::kUnavailable);
}

TEST(HttpServerTest, KeepAliveReusesOneConnection) {
  auto server = StartServer(ServerOptions(WrapSync(Echo)));
  auto client = ClientFor(TcpUrl(server->port()));
  for (int i = 0; i < 20; ++i) {
    auto response = client->Send(MakeRequest("POST", "/n", std::to_string(i)), absl::Seconds(5));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(nlohmann::json::parse(response->body)["body"], std::to_string(i));
  }
  EXPECT_EQ(server->stats().connections_accepted, 1);
  EXPECT_EQ(server->stats().requests, 20);
  EXPECT_EQ(client->stats().connections_opened, 1);
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Later later;
  auto server = StartServer(ServerOptions([&](HttpRequest&& r, Responder responder) {
    const std::string id = *r.QueryParam("id");
    if (r.path == "/slow") {  // answered last, from another thread, yet must come out first
      later.Run([responder, id] {
        absl::SleepFor(absl::Milliseconds(100));
        responder(TextResponse(200, id));
      });
    } else {
      responder(TextResponse(200, id));
    }
  }));
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(socket.ok());
  ASSERT_TRUE(
      socket.Send("GET /slow?id=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /fast?id=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                  "POST /fast?id=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
  for (const char* want : {"1", "2", "3"}) {
    auto response = socket.ReadResponse(absl::Seconds(5));
    ASSERT_TRUE(response.has_value()) << "no response " << want;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, want);
  }
  EXPECT_EQ(server->stats().connections_accepted, 1);
}

// Bodies of known length are read straight into the request's string: whatever part came with
// the header, the rest in pieces, and never into the next pipelined request.
TEST(HttpServerTest, BodiesArriveWholeInPiecesAndPipelined) {
  auto server = StartServer(ServerOptions(WrapSync([](HttpRequest&& r) {
    // The spare capacity lets simdjson parse the body in place (common/json_parser.h).
    const bool padded = r.body.empty() || r.body.capacity() - r.body.size() >= 64;
    return TextResponse(200,
                        fmt::format("{} {} {}", r.body.size(), std::hash<std::string>{}(r.body),
                                    padded ? "padded" : "unpadded"));
  })));
  auto expect = [](const std::string& body) {
    return fmt::format("{} {} padded", body.size(), std::hash<std::string>{}(body));
  };
  std::string large(3 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 131 + (i >> 9));
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(socket.ok());
  const std::string header =
      fmt::format("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", large.size());
  // The header with the body's first bytes, then the rest in uneven pieces with pauses.
  ASSERT_TRUE(socket.Send(header + large.substr(0, 1000)));
  for (size_t at = 1000; at < large.size(); at += 700000) {
    absl::SleepFor(absl::Milliseconds(20));
    ASSERT_TRUE(socket.Send(std::string_view(large).substr(at, 700000)));
  }
  auto response = socket.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, expect(large));
  // Two small bodies and a request without one, in one write.
  ASSERT_TRUE(
      socket.Send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                  "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                  "POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nworld!"));
  for (const std::string want : {"hello", "", "world!"}) {
    response = socket.ReadResponse(absl::Seconds(5));
    ASSERT_TRUE(response.has_value()) << want;
    EXPECT_EQ(response->body, expect(want));
  }
  EXPECT_EQ(server->stats().connections_accepted, 1);
}

// A client that stops short of its Content-Length: hung up on when it leaves, cut off after the
// body timeout when it stays; the server goes on serving.
TEST(HttpServerTest, TruncatedOrStalledBodyClosesTheConnection) {
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.body_timeout = absl::Milliseconds(300);
  auto server = StartServer(options);
  {
    RawSocket leaving = RawSocket::ConnectTcp(server->port());
    ASSERT_TRUE(leaving.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                             std::string(5000, 'x')));
    leaving.Close();
  }
  RawSocket stalled = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(stalled.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                           std::string(5000, 'x')));
  const absl::Time start = absl::Now();
  EXPECT_TRUE(stalled.WaitClosed(absl::Seconds(5)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  auto other = ClientFor(TcpUrl(server->port()))->Send(MakeRequest("GET", "/"), absl::Seconds(5));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->status, 200);
  EXPECT_TRUE(WaitFor([&] { return server->stats().connections_active == 0; }));
}

class HttpServerConcurrencyTest : public ::testing::TestWithParam<int> {};

TEST_P(HttpServerConcurrencyTest, ManyClientThreadsManyRequests) {
  Later later;
  std::atomic<int> async_count{0};
  HttpServer::Options options = ServerOptions([&](HttpRequest&& r, Responder responder) {
    // Every third request is answered from another thread.
    if (r.body.size() % 3 == 0) {
      async_count.fetch_add(1);
      later.Run([responder, body = std::move(r.body)]() mutable {
        responder(TextResponse(200, std::move(body)));
      });
      return;
    }
    responder(TextResponse(200, std::move(r.body)));
  });
  options.io_threads = GetParam();
  auto server = StartServer(options);
  auto client = ClientFor(TcpUrl(server->port()));
  constexpr int kThreads = 8;
  constexpr int kRequests = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        const std::string body(static_cast<size_t>(1 + (t * 7919 + i * 104729) % 20000),
                               static_cast<char>('a' + (t + i) % 26));
        auto response = client->Send(MakeRequest("POST", "/echo", body), absl::Seconds(20));
        if (!response.ok() || response->status != 200 || response->body != body) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server->stats().requests, kThreads * kRequests);
  EXPECT_GT(async_count.load(), 0);
  // Connections were reused: at most one per client thread.
  EXPECT_LE(client->stats().connections_opened, kThreads);
}

INSTANTIATE_TEST_SUITE_P(IoThreads, HttpServerConcurrencyTest, ::testing::Values(1, 2, 4));

TEST(HttpServerTest, OversizedBodyGets413) {
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.max_body_bytes = 1 << 20;
  auto server = StartServer(options);
  auto client = ClientFor(TcpUrl(server->port()));
  // The client is still sending when the 413 comes; it must report the 413, not a broken pipe.
  auto response =
      client->Send(MakeRequest("POST", "/big", std::string(8 << 20, 'x')), absl::Seconds(10));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 413);
  const absl::Status status = StatusFromHttpResponse(*response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("exceeds the limit of 1048576 bytes"), absl::string_view::npos)
      << status;
  EXPECT_EQ(server->stats().requests, 0);
  // A body at the limit is fine.
  auto ok = client->Send(MakeRequest("POST", "/ok", std::string(1 << 20, 'y')), absl::Seconds(10));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
}

TEST(HttpServerTest, OversizedContentLengthIsRefusedBeforeTheBody) {
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.max_body_bytes = 1000;
  auto server = StartServer(options);
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  // Announces 100 MB and sends none of it: the answer comes from the header alone.
  ASSERT_TRUE(socket.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"));
  auto response = socket.ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->headers["connection"], "close");
  EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["code"], 413);
  EXPECT_TRUE(socket.WaitClosed(absl::Seconds(5)));
}

TEST(HttpServerTest, OversizedChunkedBodyGets413) {
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.max_body_bytes = 1000;
  auto server = StartServer(options);
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  std::string request = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) request += "200\r\n" + std::string(512, 'z') + "\r\n";
  request += "0\r\n\r\n";
  ASSERT_TRUE(socket.Send(request));
  auto response = socket.ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
}

TEST(HttpServerTest, ChunkedBodyWithinLimitIsAssembled) {
  auto server = StartServer(ServerOptions(WrapSync(Echo)));
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(
      socket.Send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  auto response = socket.ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(nlohmann::json::parse(response->body)["body"], "abcde");
}

TEST(HttpServerTest, MalformedRequestsGet400AndClose) {
  auto server = StartServer(ServerOptions(WrapSync(Echo)));
  for (const std::string& bytes :
       {std::string("HELLO\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
        std::string("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n"),
        std::string("GET * HTTP/1.1\r\nHost: x\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00", 5) + "\r\n\r\n"}) {
    SCOPED_TRACE(bytes);
    RawSocket socket = RawSocket::ConnectTcp(server->port());
    ASSERT_TRUE(socket.Send(bytes));
    auto response = socket.ReadResponse(absl::Seconds(5));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 400);
    EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["status"], "INVALID_ARGUMENT");
    EXPECT_TRUE(socket.WaitClosed(absl::Seconds(5)));
  }
  EXPECT_EQ(server->stats().requests, 0);
  // Still serving.
  EXPECT_TRUE(
      ClientFor(TcpUrl(server->port()))->Send(MakeRequest("GET", "/"), absl::Seconds(5)).ok());
}

TEST(HttpServerTest, OversizedHeaderGets431) {
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.max_header_bytes = 2048;
  auto server = StartServer(options);
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(
      socket.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'h') + "\r\n\r\n"));
  auto response = socket.ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
}

TEST(HttpServerTest, ExpectContinueIsHonoured) {
  auto server = StartServer(ServerOptions(WrapSync(Echo)));
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(socket.Send(
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  ASSERT_TRUE(socket.ReadUntil("HTTP/1.1 100 Continue\r\n\r\n", absl::Seconds(5)));
  ASSERT_TRUE(socket.Send("hello"));
  // The 100 is consumed as its own (empty) response, then the real one follows.
  auto interim = socket.ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  auto response = socket.ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(nlohmann::json::parse(response->body)["body"], "hello");
}

TEST(HttpServerTest, SlowlorisIsCutOffWithoutHoldingTheIoThread) {
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.io_threads = 1;
  options.header_timeout = absl::Milliseconds(300);
  options.idle_timeout = absl::Seconds(30);
  auto server = StartServer(options);
  RawSocket slow = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: x\r\n"));
  const absl::Time start = absl::Now();
  // While the slow request is half-read, the single io thread serves others.
  auto other = ClientFor(TcpUrl(server->port()))->Send(MakeRequest("GET", "/"), absl::Seconds(5));
  EXPECT_TRUE(other.ok()) << other.status();
  // Dribble a header byte every 20 ms; the server must hang up anyway.
  bool closed = false;
  while (!closed && absl::Now() - start < absl::Seconds(5)) {
    closed = !slow.Send("X") || slow.WaitClosed(absl::Milliseconds(20));
  }
  EXPECT_TRUE(closed);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  EXPECT_TRUE(WaitFor([&] { return server->stats().connections_active == 0; }));
}

TEST(HttpServerTest, IdleConnectionIsClosedAfterIdleTimeout) {
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.idle_timeout = absl::Milliseconds(200);
  auto server = StartServer(options);
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(socket.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(socket.ReadResponse(absl::Seconds(5)).has_value());
  EXPECT_TRUE(socket.WaitClosed(absl::Seconds(5)));
}

TEST(HttpServerTest, HandlerExceptionGives500AndServerKeepsServing) {
  auto server = StartServer(ServerOptions(WrapSync([](HttpRequest&& r) -> HttpResponse {
    if (r.path == "/throw") throw std::runtime_error("boom");
    return TextResponse(200, "fine");
  })));
  auto client = ClientFor(TcpUrl(server->port()));
  auto thrown = client->Send(MakeRequest("GET", "/throw"), absl::Seconds(5));
  ASSERT_TRUE(thrown.ok()) << thrown.status();
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(StatusFromHttpResponse(*thrown).code(), absl::StatusCode::kInternal);
  auto fine = client->Send(MakeRequest("GET", "/ok"), absl::Seconds(5));
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->body, "fine");
}

TEST(HttpServerTest, DroppedResponderGives500) {
  auto server = StartServer(ServerOptions([](HttpRequest&&, Responder) {}));
  auto response =
      ClientFor(TcpUrl(server->port()))->Send(MakeRequest("GET", "/"), absl::Seconds(5));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 500);
  EXPECT_NE(StatusFromHttpResponse(*response).message().find("without responding"),
            absl::string_view::npos);
}

TEST(HttpServerTest, SecondResponseIsIgnored) {
  auto server = StartServer(ServerOptions([](HttpRequest&&, Responder responder) {
    EXPECT_TRUE(responder.Respond(TextResponse(200, "first")));
    EXPECT_FALSE(responder.Respond(TextResponse(201, "second")));
    EXPECT_TRUE(responder.responded());
  }));
  auto client = ClientFor(TcpUrl(server->port()));
  for (int i = 0; i < 2; ++i) {
    auto response = client->Send(MakeRequest("GET", "/"), absl::Seconds(5));
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->body, "first");
  }
}

TEST(HttpServerTest, InvalidStatusFromHandlerBecomes500) {
  auto server = StartServer(ServerOptions(WrapSync([](HttpRequest&&) {
    HttpResponse r = TextResponse(42, "nonsense");
    r.headers.Add("X-Evil", "a\r\nInjected: yes");
    return r;
  })));
  auto response =
      ClientFor(TcpUrl(server->port()))->Send(MakeRequest("GET", "/"), absl::Seconds(5));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 500);
  EXPECT_FALSE(response->headers.Contains("Injected"));
}

TEST(HttpServerTest, AsyncHandlerRespondsFromAnotherThreadAfterADelay) {
  Later later;
  auto server = StartServer(ServerOptions([&](HttpRequest&& r, Responder responder) {
    later.Run([responder, body = std::move(r.body)] {
      absl::SleepFor(absl::Milliseconds(150));
      responder(TextResponse(202, "late:" + body));
    });
  }));
  auto client = ClientFor(TcpUrl(server->port()));
  const absl::Time start = absl::Now();
  auto response = client->Send(MakeRequest("POST", "/", "x"), absl::Seconds(5));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 202);
  EXPECT_EQ(response->body, "late:x");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(140));
}

TEST(HttpServerTest, GracefulShutdownDrainsAnInFlightRequest) {
  Later later;
  absl::Notification entered;
  auto server = StartServer(ServerOptions([&](HttpRequest&&, Responder responder) {
    entered.Notify();
    later.Run([responder] {
      absl::SleepFor(absl::Milliseconds(300));
      responder(TextResponse(200, "drained"));
    });
  }));
  const int port = server->port();
  auto client = ClientFor(TcpUrl(port));
  // An idle keep-alive connection too: it must be closed at once, not waited for.
  RawSocket idle = RawSocket::ConnectTcp(port);
  ASSERT_TRUE(WaitFor([&] { return server->stats().connections_active == 1; }));
  absl::StatusOr<HttpResponse> response;
  std::thread request(
      [&] { response = client->Send(MakeRequest("GET", "/slow"), absl::Seconds(10)); });
  entered.WaitForNotification();
  const absl::Time start = absl::Now();
  server->Shutdown(absl::Seconds(10));
  const absl::Duration took = absl::Now() - start;
  request.join();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "drained");
  EXPECT_EQ(response->headers.GetOr("Connection", ""), "close");
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_TRUE(idle.WaitClosed(absl::Seconds(1)));
  // No longer accepting.
  EXPECT_FALSE(RawSocket::ConnectTcp(port).ok());
}

TEST(HttpServerTest, ShutdownCutsOffARequestPastTheDrainTimeout) {
  absl::Mutex mu;
  std::vector<Responder> held;  // never answered before the shutdown
  absl::Notification entered;
  auto server = StartServer(ServerOptions([&](HttpRequest&&, Responder responder) {
    absl::MutexLock lock(&mu);
    held.push_back(std::move(responder));
    entered.Notify();
  }));
  auto client = ClientFor(TcpUrl(server->port()));
  absl::StatusOr<HttpResponse> response;
  std::thread request([&] { response = client->Send(MakeRequest("GET", "/"), absl::Seconds(30)); });
  entered.WaitForNotification();
  const absl::Time start = absl::Now();
  server->Shutdown(absl::Milliseconds(200));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  request.join();
  // The client learns promptly that its peer is gone.
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  // Responding after the shutdown (even after the server is destroyed) is harmless.
  server.reset();
  absl::MutexLock lock(&mu);
  for (Responder& r : held) EXPECT_TRUE(r.Respond(TextResponse(200, "too late")));
}

TEST(HttpServerTest, ConnectionsOverTheLimitGet503) {
  HttpServer::Options options = ServerOptions(WrapSync(Echo));
  options.max_connections = 2;
  auto server = StartServer(options);
  RawSocket a = RawSocket::ConnectTcp(server->port());
  RawSocket b = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(WaitFor([&] { return server->stats().connections_active == 2; }));
  RawSocket c = RawSocket::ConnectTcp(server->port());
  auto refused = c.ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(server->stats().connections_refused, 1);
  // The two admitted connections still work.
  ASSERT_TRUE(a.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto ok = a.ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
}

TEST(HttpServerTest, HeadGetsHeadersOnly) {
  auto server = StartServer(
      ServerOptions(WrapSync([](HttpRequest&&) { return TextResponse(200, "twelve bytes"); })));
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(socket.Send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(socket.ReadUntil("twelve bytes", absl::Seconds(5)));
  const std::string& bytes = socket.buffered();
  const size_t head_end = bytes.find("\r\n\r\n");
  EXPECT_NE(bytes.substr(0, head_end).find("Content-Length: 12"), std::string::npos) << bytes;
  // Right after the HEAD response's header comes the GET response: no body in between.
  EXPECT_EQ(bytes.compare(head_end + 4, 12, "HTTP/1.1 200"), 0) << bytes;
}

}  // namespace
}  // namespace tessera::http
