// HttpServer against slow and greedy clients: separate header and body deadlines, the per-peer
// connection cap, accept back-off when the process is out of file descriptors, and many slow
// connections not starving a normal client.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "common/http/google_error.h"
#include "common/http/handler.h"
#include "common/http/http_server.h"
#include "gtest/gtest.h"
#include "http_test_util.h"
#include "raw_socket.h"

namespace tessera::http {
namespace {

using testing::ClientFor;
using testing::MakeRequest;
using testing::RawSocket;
using testing::ServerOptions;
using testing::StartServer;
using testing::TcpUrl;
using testing::WaitFor;

HttpResponse Ok(HttpRequest&&) { return TextResponse(200, "ok"); }

// Sends one byte every 50 ms until the server closes the connection or `limit` passes; returns
// how long the connection lived.
absl::Duration TrickleUntilClosed(RawSocket& socket, char byte, absl::Duration limit) {
  const absl::Time start = absl::Now();
  while (absl::Now() - start < limit) {
    if (!socket.Send(std::string(1, byte)) || socket.WaitClosed(absl::Milliseconds(50))) break;
  }
  return absl::Now() - start;
}

TEST(HttpServerSlowClientTest, HeaderDeadlineClosesAConnectionThatTricklesItsHeader) {
  HttpServer::Options options = ServerOptions(WrapSync(Ok));
  options.header_timeout = absl::Milliseconds(500);
  options.body_timeout = absl::Seconds(60);
  auto server = StartServer(options);
  RawSocket slow = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  const absl::Duration lived = TrickleUntilClosed(slow, 'a', absl::Seconds(30));
  EXPECT_GE(lived, absl::Milliseconds(400));
  EXPECT_LT(lived, absl::Seconds(30)) << "the header deadline never fired";
  EXPECT_TRUE(WaitFor([&] { return server->stats().connections_active == 0; }));
}

TEST(HttpServerSlowClientTest, BodyDeadlineIsSeparateFromTheHeaderDeadline) {
  HttpServer::Options options = ServerOptions(WrapSync(Ok));
  options.header_timeout = absl::Milliseconds(300);
  options.body_timeout = absl::Seconds(2);
  auto server = StartServer(options);
  RawSocket slow = RawSocket::ConnectTcp(server->port());
  // The header arrives at once; the body trickles: it may take the body's deadline, not the
  // header's.
  ASSERT_TRUE(slow.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
  const absl::Duration lived = TrickleUntilClosed(slow, 'b', absl::Seconds(30));
  EXPECT_GE(lived, absl::Milliseconds(1800)) << "cut off by the header deadline";
  EXPECT_LT(lived, absl::Seconds(30)) << "the body deadline never fired";
  // A whole body within the deadline is served.
  auto fine =
      ClientFor(TcpUrl(server->port()))->Send(MakeRequest("POST", "/", "body"), absl::Seconds(10));
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->status, 200);
}

TEST(HttpServerSlowClientTest, PerPeerCapRefusesTheExtraConnectionsOfOneAddressOnly) {
  HttpServer::Options options = ServerOptions(WrapSync(Ok));
  options.max_connections_per_peer = 3;
  auto server = StartServer(options);
  std::vector<std::unique_ptr<RawSocket>> admitted;
  for (int i = 0; i < 3; ++i) {
    admitted.push_back(std::make_unique<RawSocket>(RawSocket::ConnectTcp(server->port())));
    ASSERT_TRUE(admitted.back()->ok());
  }
  ASSERT_TRUE(WaitFor([&] { return server->stats().connections_active == 3; }));

  RawSocket extra = RawSocket::ConnectTcp(server->port());
  auto refused = extra.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(StatusFromHttpResponse(refused->status, refused->body).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_NE(refused->body.find("127.0.0.1"), std::string::npos) << refused->body;
  EXPECT_FALSE(refused->headers["x-request-id"].empty());
  EXPECT_TRUE(extra.WaitClosed(absl::Seconds(10)));
  EXPECT_EQ(server->stats().connections_refused_per_peer, 1);

  // Another client address is served meanwhile.
  RawSocket other = RawSocket::ConnectTcpFrom(server->port(), "127.0.0.2");
  ASSERT_TRUE(other.ok()) << "cannot bind 127.0.0.2";
  ASSERT_TRUE(other.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto served = other.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(served->status, 200);

  // The admitted ones still work; closing one frees its slot for the same address.
  ASSERT_TRUE(admitted[0]->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto ok = admitted[0]->ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
  admitted[1]->Close();
  ASSERT_TRUE(WaitFor([&] { return server->stats().connections_active == 3; }));  // 2 + other
  RawSocket again = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(again.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto reused = again.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(reused.has_value());
  EXPECT_EQ(reused->status, 200);
  EXPECT_EQ(server->stats().connections_refused_per_peer, 1);
}

TEST(HttpServerSlowClientTest, TwoHundredSlowConnectionsDoNotStarveANormalClient) {
  HttpServer::Options options = ServerOptions(WrapSync(Ok));
  options.io_threads = 2;
  options.header_timeout = absl::Seconds(120);  // the slow ones stay for the whole test
  auto server = StartServer(options);
  constexpr int kSlow = 200;
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<RawSocket>(RawSocket::ConnectTcp(server->port())));
    ASSERT_TRUE(slow.back()->ok());
    ASSERT_TRUE(slow.back()->Send("GET / HTTP/1.1\r\nHost: x\r\n"));
  }
  ASSERT_TRUE(WaitFor([&] { return server->stats().connections_active == kSlow; },
                      absl::Seconds(30)));
  auto client = ClientFor(TcpUrl(server->port()));
  for (int round = 0; round < 20; ++round) {
    for (auto& s : slow) ASSERT_TRUE(s->Send("X-A: b\r\n")) << "a slow client was cut off";
    // Generous: the point is "served", not a latency figure (bench/slowloris.py measures that).
    auto response = client->Send(MakeRequest("GET", "/"), absl::Seconds(10));
    ASSERT_TRUE(response.ok()) << "round " << round << ": " << response.status();
    EXPECT_EQ(response->status, 200);
  }
  EXPECT_EQ(server->stats().connections_active, kSlow + 1);
}

// Out of file descriptors, accept() fails with EMFILE at once, every time: the server must back
// off rather than spin, and accept again once descriptors are free.
TEST(HttpServerSlowClientTest, AcceptBacksOffWhenOutOfFileDescriptorsAndRecovers) {
  auto server = StartServer(ServerOptions(WrapSync(Ok)));
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // A low soft limit, so filling the table is cheap.
  const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(probe, 0);
  ::close(probe);
  rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, static_cast<rlim_t>(probe) + 64);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
  ASSERT_FALSE(filler.empty());
  // One descriptor for the client socket; then the server has none for accept().
  ::close(filler.back());
  filler.pop_back();
  RawSocket client = RawSocket::ConnectTcp(server->port());
  const bool connected = client.ok();
  const bool failed = connected && WaitFor([&] { return server->stats().accept_failures > 0; });
  absl::SleepFor(absl::Seconds(2));
  const int64_t failures = server->stats().accept_failures;
  for (int fd : filler) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(connected);
  ASSERT_TRUE(failed) << "accept never failed: the test did not exhaust the descriptors";
  // 10 ms doubling to 1 s: about 8 tries in 2 s. A spinning accept loop makes thousands.
  EXPECT_LE(failures, 30);
  // Descriptors are back: the waiting connection is accepted (within the 1 s back-off) and served.
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto response = client.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

}  // namespace
}  // namespace tessera::http
