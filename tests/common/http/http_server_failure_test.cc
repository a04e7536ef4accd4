// HttpServer request ids and handler failures: every request gets an id (the client's when it is
// short and printable), echoed in X-Request-Id; a handler that throws anything is answered 500
// INTERNAL with that id in the Google error, and the server serves the next request.
#include <stdexcept>
#include <string>

#include "common/http/google_error.h"
#include "common/http/handler.h"
#include "common/http/http_server.h"
#include "common/http/request_id.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http_test_util.h"
#include "nlohmann/json.hpp"
#include "raw_socket.h"

namespace tessera::http {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using testing::ClientFor;
using testing::MakeRequest;
using testing::RawSocket;
using testing::ServerOptions;
using testing::StartServer;
using testing::TcpUrl;

HttpResponse EchoRequestId(HttpRequest&& r) { return TextResponse(200, r.request_id); }

TEST(RequestIdTest, AcceptsShortPrintableIdsOnly) {
  EXPECT_TRUE(IsAcceptableRequestId("abc-123_x.y:z"));
  EXPECT_TRUE(IsAcceptableRequestId(std::string(kMaxRequestIdBytes, 'a')));
  EXPECT_FALSE(IsAcceptableRequestId(""));
  EXPECT_FALSE(IsAcceptableRequestId(std::string(kMaxRequestIdBytes + 1, 'a')));
  EXPECT_FALSE(IsAcceptableRequestId("a b"));
  EXPECT_FALSE(IsAcceptableRequestId("a\tb"));
  EXPECT_FALSE(IsAcceptableRequestId("caf\xc3\xa9"));
  EXPECT_THAT(NewRequestId(), MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(NewRequestId(), NewRequestId());
}

TEST(HttpServerRequestIdTest, EveryRequestGetsAFreshIdEchoedInTheHeader) {
  auto server = StartServer(ServerOptions(WrapSync(EchoRequestId)));
  auto client = ClientFor(TcpUrl(server->port()));
  auto first = client->Send(MakeRequest("GET", "/"), absl::Seconds(10));
  auto second = client->Send(MakeRequest("GET", "/"), absl::Seconds(10));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(first->body, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(first->headers.GetOr("X-Request-Id", ""), first->body);
  EXPECT_EQ(second->headers.GetOr("X-Request-Id", ""), second->body);
  EXPECT_NE(first->body, second->body);
}

TEST(HttpServerRequestIdTest, KeepsAPrintableClientIdAndReplacesABadOne) {
  auto server = StartServer(ServerOptions(WrapSync(EchoRequestId)));
  auto client = ClientFor(TcpUrl(server->port()));
  HttpRequest mine = MakeRequest("GET", "/");
  mine.headers.Set("X-Request-Id", "client-42");
  auto kept = client->Send(std::move(mine), absl::Seconds(10));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->body, "client-42");
  EXPECT_EQ(kept->headers.GetOr("X-Request-Id", ""), "client-42");

  for (const std::string bad : {std::string(500, 'x'), std::string("two words")}) {
    HttpRequest request = MakeRequest("GET", "/");
    request.headers.Set("X-Request-Id", bad);
    auto replaced = client->Send(std::move(request), absl::Seconds(10));
    ASSERT_TRUE(replaced.ok()) << replaced.status();
    EXPECT_THAT(replaced->body, MatchesRegex("[0-9a-f]{32}")) << bad;
    EXPECT_EQ(replaced->headers.GetOr("X-Request-Id", ""), replaced->body);
  }
}

TEST(HttpServerRequestIdTest, TransportErrorsCarryAnIdToo) {
  HttpServer::Options options = ServerOptions(WrapSync(EchoRequestId));
  options.max_body_bytes = 10;
  auto server = StartServer(options);
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(socket.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"));
  auto response = socket.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_THAT(response->headers["x-request-id"], MatchesRegex("[0-9a-f]{32}"));
}

struct NotAnException {
  int code;
};

// What a handler throws, by name.
void ThrowKind(const std::string& kind) {
  if (kind == "runtime_error") throw std::runtime_error("boom");
  if (kind == "length_error") throw std::length_error("vector::_M_default_append");
  if (kind == "int") throw 42;
  if (kind == "struct") throw NotAnException{7};
}

class HttpServerThrowTest : public ::testing::TestWithParam<std::string> {};

// The answer to a request whose handler threw: 500 INTERNAL, the id in the message, in a
// google.rpc.RequestInfo detail and in the header, all the same.
void ExpectInternalWithRequestId(const HttpResponse& response, const std::string& id) {
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.headers.GetOr("X-Request-Id", ""), id);
  const absl::Status status = StatusFromHttpResponse(response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()), HasSubstr(id));
  const nlohmann::json body = nlohmann::json::parse(response.body);
  const nlohmann::json& details = body["error"]["details"];
  ASSERT_TRUE(details.is_array()) << response.body;
  ASSERT_EQ(details.size(), 1u) << response.body;
  EXPECT_EQ(details[0]["@type"], "type.googleapis.com/google.rpc.RequestInfo");
  EXPECT_EQ(details[0]["requestId"], id);
}

TEST_P(HttpServerThrowTest, HandlerExceptionOfAnyTypeGives500WithTheRequestId) {
  const std::string kind = GetParam();
  auto server = StartServer(ServerOptions(WrapSync([kind](HttpRequest&& r) -> HttpResponse {
    if (r.path == "/throw") ThrowKind(kind);
    return TextResponse(200, "fine");
  })));
  auto client = ClientFor(TcpUrl(server->port()));
  HttpRequest request = MakeRequest("GET", "/throw");
  request.headers.Set("X-Request-Id", "req-" + kind);
  auto thrown = client->Send(std::move(request), absl::Seconds(10));
  ASSERT_TRUE(thrown.ok()) << thrown.status();
  ExpectInternalWithRequestId(*thrown, "req-" + kind);
  if (kind == "length_error") {
    EXPECT_THAT(thrown->body, HasSubstr("std::length_error"));
  } else if (kind == "int") {
    EXPECT_THAT(thrown->body, HasSubstr("an exception of type int"));
  }
  // The same connection, then a new one: both served.
  auto again = client->Send(MakeRequest("GET", "/ok"), absl::Seconds(10));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->body, "fine");
  auto fresh = ClientFor(TcpUrl(server->port()))->Send(MakeRequest("GET", "/ok"), absl::Seconds(10));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->body, "fine");
}

INSTANTIATE_TEST_SUITE_P(Kinds, HttpServerThrowTest,
                         ::testing::Values("runtime_error", "length_error", "int", "struct"));

TEST(HttpServerFailureTest, AsyncHandlerThatThrowsAfterKeepingTheResponderStillAnswers) {
  // The handler copies its Responder elsewhere, then throws: the server answers for it, and the
  // late copy's Respond is a harmless no-op.
  Responder kept;
  auto server = StartServer(ServerOptions([&](HttpRequest&&, Responder responder) {
    kept = responder;
    throw 42;
  }));
  auto client = ClientFor(TcpUrl(server->port()));
  HttpRequest request = MakeRequest("GET", "/");
  request.headers.Set("X-Request-Id", "late-1");
  auto thrown = client->Send(std::move(request), absl::Seconds(10));
  ASSERT_TRUE(thrown.ok()) << thrown.status();
  ExpectInternalWithRequestId(*thrown, "late-1");
  EXPECT_FALSE(kept.Respond(TextResponse(200, "too late")));
}

TEST(HttpServerFailureTest, DroppedResponderAnswers500WithTheRequestId) {
  auto server = StartServer(ServerOptions([](HttpRequest&&, Responder) {}));
  auto client = ClientFor(TcpUrl(server->port()));
  HttpRequest request = MakeRequest("GET", "/");
  request.headers.Set("X-Request-Id", "dropped-1");
  auto response = client->Send(std::move(request), absl::Seconds(10));
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectInternalWithRequestId(*response, "dropped-1");
  EXPECT_THAT(response->body, HasSubstr("finished without responding"));
}

}  // namespace
}  // namespace tessera::http
