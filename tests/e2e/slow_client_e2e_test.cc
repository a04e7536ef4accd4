// `tessera serve`'s slow-client flags on the real binary: --header-timeout-s cuts off a client
// that trickles its header, --max-connections-per-peer refuses one address's extra connections
// with 503 while another address is served; every response carries X-Request-Id.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "common/http/raw_socket.h"
#include "e2e/control_plane_server.h"
#include "gtest/gtest.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::testing {
namespace {

using http::testing::RawSocket;

std::string List(const std::string& key) {
  return "GET /v1/projects/p/locations/l/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
         key + "\r\n\r\n";
}

TEST(SlowClientE2E, ServeCutsOffTricklersAndCapsConnectionsPerPeer) {
  ScopedTempDir tmp;
  auto serve = ServeProcess::Start(tmp.path() / "data", {"--header-timeout-s", "1",
                                                         "--max-connections-per-peer", "3"});
  ASSERT_TRUE(serve.ok()) << serve.status();

  // A header trickled a byte every 50 ms is cut off after about a second, not served forever.
  RawSocket slow = RawSocket::ConnectTcp((*serve)->port());
  ASSERT_TRUE(slow.Send("GET /v1/projects/p/locations/l/models HTTP/1.1\r\nX-Slow: "));
  const absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Seconds(30)) {
    if (!slow.Send("a") || slow.WaitClosed(absl::Milliseconds(50))) break;
  }
  const absl::Duration lived = absl::Now() - start;
  EXPECT_GE(lived, absl::Milliseconds(800));
  // Under the default 10 s: the flag, not the default, cut it off.
  EXPECT_LT(lived, absl::Seconds(8)) << "--header-timeout-s had no effect";
  slow.Close();

  // Three connections from 127.0.0.3 are admitted (and served); a fourth gets 503. An address
  // of its own: the connections the harness's readiness polls and the trickler above made from
  // 127.0.0.1 count against that address until the server has read their close, which on a
  // loaded machine can come after this point.
  constexpr char kCapped[] = "127.0.0.3";
  std::vector<std::unique_ptr<RawSocket>> admitted;
  for (int i = 0; i < 3; ++i) {
    admitted.push_back(
        std::make_unique<RawSocket>(RawSocket::ConnectTcpFrom((*serve)->port(), kCapped)));
    ASSERT_TRUE(admitted.back()->ok());
    ASSERT_TRUE(admitted.back()->Send(List((*serve)->admin_key())));
    auto listed = admitted.back()->ReadResponse(absl::Seconds(30));
    ASSERT_TRUE(listed.has_value());
    EXPECT_EQ(listed->status, 200);
    EXPECT_FALSE(listed->headers["x-request-id"].empty());
  }
  RawSocket extra = RawSocket::ConnectTcpFrom((*serve)->port(), kCapped);
  auto refused = extra.ReadResponse(absl::Seconds(30));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("UNAVAILABLE"), std::string::npos) << refused->body;

  // Another address is still served, and the client's own request id comes back.
  RawSocket other = RawSocket::ConnectTcpFrom((*serve)->port(), "127.0.0.2");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(
      other.Send("GET /v1/projects/p/locations/l/models/404 HTTP/1.1\r\nHost: x\r\n"
                 "X-Request-Id: e2e-7\r\nAuthorization: Bearer " +
                 (*serve)->admin_key() + "\r\n\r\n"));
  auto missing = other.ReadResponse(absl::Seconds(30));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->headers["x-request-id"], "e2e-7");
  EXPECT_EQ((*serve)->Stop(SIGTERM).value_or(-1), 0) << (*serve)->Log();
}

}  // namespace
}  // namespace tessera::testing
