// Admission and cancellation in the HTTP transport, over real sockets: the server notices a
// client that closes its connection mid-request (the Responder's token fires), the client
// abandons a call when its token fires (and the server sees it go), request bodies in flight are
// bounded by bytes (429 with Retry-After before the body is read), and the pieces that carry
// deadlines and Retry-After (X-Server-Timeout parsing, the Retry-After status payload,
// ByteBudget).
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/admission.h"
#include "common/http/google_error.h"
#include "common/http/http_client.h"
#include "common/http/http_server.h"
#include "common/http/request_deadline.h"
#include "fmt/format.h"
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

// Keeps the Responders a handler did not answer yet, for the test to inspect and answer.
class Held {
 public:
  http::Handler MakeHandler() {
    return [this](HttpRequest&& request, Responder responder) {
      absl::MutexLock lock(&mu_);
      bodies_.push_back(request.body);
      responders_.push_back(std::move(responder));
    };
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return responders_.size();
  }
  Responder at(size_t i) {
    absl::MutexLock lock(&mu_);
    return responders_.at(i);
  }
  void AnswerAll() {
    absl::MutexLock lock(&mu_);
    for (Responder& r : responders_) {
      if (!r.responded()) r(TextResponse(200, "ok"));
    }
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> bodies_;
  std::vector<Responder> responders_;
};

std::string PostBytes(size_t body_bytes) {
  return fmt::format("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}", body_bytes,
                     std::string(body_bytes, 'x'));
}

TEST(HttpCancellationTest, ClientClosingMidRequestCancelsTheResponderToken) {
  Held held;
  auto server = StartServer(ServerOptions(held.MakeHandler()));
  RawSocket socket = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(socket.Send(PostBytes(10)));
  ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }));
  Responder responder = held.at(0);
  ASSERT_NE(responder.cancellation(), nullptr);
  // Still connected: not cancelled, however long the handler takes.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(responder.cancelled());
  socket.Close();
  EXPECT_TRUE(WaitFor([&] { return responder.cancelled(); }, absl::Seconds(10)));
  responder(TextResponse(200, "nobody reads this"));  // harmless
}

TEST(HttpCancellationTest, AnsweredRequestIsNotCancelledAndKeepAliveGoesOn) {
  auto server = StartServer(ServerOptions([](HttpRequest&&, Responder responder) {
    std::thread([responder] {
      absl::SleepFor(absl::Milliseconds(60));
      responder(TextResponse(200, responder.cancelled() ? "cancelled" : "fine"));
    }).detach();
  }));
  auto client = ClientFor(TcpUrl(server->port()));
  for (int i = 0; i < 3; ++i) {
    auto response = client->Send(MakeRequest("GET", "/"), absl::Seconds(10));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->body, "fine");
  }
  EXPECT_EQ(client->stats().connections_opened, 1);
  absl::SleepFor(absl::Milliseconds(100));  // the detached threads finish
}

// The router's side: a cancelled call returns CANCELLED at once and closes its connection, which
// the server (the replica, in production) sees as its client leaving.
TEST(HttpCancellationTest, CancelledClientCallClosesItsConnectionAndTheServerNotices) {
  Held held;
  auto server = StartServer(ServerOptions(held.MakeHandler()));
  auto client = ClientFor(TcpUrl(server->port()));
  CancellationToken cancel;
  absl::StatusOr<HttpResponse> response;
  absl::Time returned;
  std::thread call([&] {
    response = client->Send(MakeRequest("POST", "/p"), "body", absl::Seconds(30), &cancel);
    returned = absl::Now();
  });
  ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }));
  const absl::Time cancelled_at = absl::Now();
  cancel.Cancel();
  call.join();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kCancelled) << response.status();
  EXPECT_LT(returned - cancelled_at, absl::Seconds(2));
  Responder responder = held.at(0);
  EXPECT_TRUE(WaitFor([&] { return responder.cancelled(); }, absl::Seconds(10)));
  // An already-cancelled token never sends.
  auto again = client->Send(MakeRequest("POST", "/p"), "body", absl::Seconds(30), &cancel);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(held.size(), 1u);
  responder(TextResponse(200, "late"));
}

TEST(HttpAdmissionTest, BodiesOverTheInFlightByteBudgetGet429WithRetryAfter) {
  Held held;
  HttpServer::Options options = ServerOptions(held.MakeHandler());
  options.max_in_flight_body_bytes = 1000;
  auto server = StartServer(options);
  RawSocket first = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(first.Send(PostBytes(800)));
  ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }));
  EXPECT_EQ(server->stats().body_bytes_in_flight, 800);

  // 800 more do not fit: refused from the header, before the body is read.
  RawSocket second = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(second.Send(PostBytes(800)));
  auto refused = second.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 429);
  ASSERT_TRUE(refused->headers.contains("retry-after"));
  EXPECT_GE(std::stoi(refused->headers["retry-after"]), 1);
  EXPECT_NE(refused->body.find("RESOURCE_EXHAUSTED"), std::string::npos) << refused->body;
  EXPECT_EQ(held.size(), 1u);
  EXPECT_EQ(server->stats().refused_body_bytes, 1);

  // A small one still fits; once the first is answered, a large one fits again.
  auto client = ClientFor(TcpUrl(server->port()));
  std::thread small([&] {
    auto r = client->Send(MakeRequest("POST", "/p", std::string(100, 'y')), absl::Seconds(10));
    EXPECT_TRUE(r.ok() && r->status == 200);
  });
  ASSERT_TRUE(WaitFor([&] { return held.size() == 2; }));
  held.AnswerAll();
  small.join();
  auto first_answer = first.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(first_answer.has_value());
  EXPECT_EQ(first_answer->status, 200);
  EXPECT_TRUE(WaitFor([&] { return server->stats().body_bytes_in_flight == 0; }));
  std::thread large([&] {
    auto r = client->Send(MakeRequest("POST", "/p", std::string(900, 'z')), absl::Seconds(10));
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  });
  ASSERT_TRUE(WaitFor([&] { return held.size() == 3; }));
  held.AnswerAll();
  large.join();
}

TEST(HttpAdmissionTest, RefusalUsesTheConfiguredErrorShape) {
  Held held;
  HttpServer::Options options = ServerOptions(held.MakeHandler());
  options.max_in_flight_body_bytes = 100;
  options.refusal_response = [](std::string_view target, const absl::Status& status) {
    HttpResponse r =
        TextResponse(500, fmt::format("plain {}: {}", target, std::string(status.message())));
    AddRetryAfterHeader(status, r);
    return r;
  };
  auto server = StartServer(options);
  RawSocket first = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(first.Send(PostBytes(80)));
  ASSERT_TRUE(WaitFor([&] { return held.size() == 1; }));
  RawSocket second = RawSocket::ConnectTcp(server->port());
  ASSERT_TRUE(second.Send(PostBytes(80)));
  auto refused = second.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 429);  // the status is the server's, the body the hook's
  EXPECT_EQ(refused->body.rfind("plain /p: the server is overloaded", 0), 0u) << refused->body;
  EXPECT_TRUE(refused->headers.contains("retry-after"));
  held.AnswerAll();
}

TEST(RequestDeadlineTest, ParsesDecimalSecondsAndRefusesTheRest) {
  EXPECT_EQ(*ParseServerTimeout("30"), absl::Seconds(30));
  EXPECT_EQ(*ParseServerTimeout("0.5"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseServerTimeout("0.001"), absl::Milliseconds(1));
  EXPECT_EQ(*ParseServerTimeout(".25"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseServerTimeout("2."), absl::Seconds(2));
  EXPECT_EQ(*ParseServerTimeout("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseServerTimeout("99999999999999999999"), absl::Hours(24));
  for (const char* bad : {"", ".", "-1", "1e3", "inf", "nan", " 1", "1 ", "0x10", "1.2.3", "1s"}) {
    EXPECT_EQ(ParseServerTimeout(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  HttpRequest request;
  const absl::Time now = absl::Now();
  EXPECT_EQ(*RequestDeadline(request, now), absl::InfiniteFuture());
  request.headers.Set(std::string(kServerTimeoutHeader), "1.5");
  EXPECT_EQ(*RequestDeadline(request, now), now + absl::Milliseconds(1500));
  request.headers.Set(std::string(kServerTimeoutHeader), "soon");
  EXPECT_NE(std::string(RequestDeadline(request, now).status().message()).find("X-Server-Timeout"),
            std::string::npos);

  EXPECT_EQ(ServerTimeoutValue(absl::Milliseconds(2500)), "2.500");
  EXPECT_EQ(ServerTimeoutValue(absl::Microseconds(10)), "0.001");
  EXPECT_EQ(ServerTimeoutValue(-absl::Seconds(1)), "0.001");
  EXPECT_EQ(*ParseServerTimeout(ServerTimeoutValue(absl::Seconds(59))), absl::Seconds(59));
}

TEST(RetryAfterTest, TravelsThroughAGoogleErrorResponseAndBack) {
  absl::Status full = absl::ResourceExhaustedError("queue full");
  EXPECT_FALSE(RetryAfterSeconds(full).has_value());
  SetRetryAfterSeconds(full, 7);
  EXPECT_EQ(RetryAfterSeconds(full), 7);
  HttpResponse response = GoogleErrorResponse(full);
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.headers.GetOr(std::string(kRetryAfterHeader), ""), "7");
  const absl::Status back = StatusFromHttpResponse(response);
  EXPECT_EQ(back.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(back.message(), "queue full");
  EXPECT_EQ(RetryAfterSeconds(back), 7);
  // Without the hint, no header; an OK status takes no payload.
  EXPECT_FALSE(GoogleErrorResponse(absl::ResourceExhaustedError("x"))
                   .headers.Contains(std::string(kRetryAfterHeader)));
  absl::Status ok;
  SetRetryAfterSeconds(ok, 3);
  EXPECT_FALSE(RetryAfterSeconds(ok).has_value());
  // Bad header values are ignored.
  HttpResponse odd = GoogleErrorResponse(absl::ResourceExhaustedError("x"));
  odd.headers.Set(std::string(kRetryAfterHeader), "Wed, 21 Oct 2015 07:28:00 GMT");
  EXPECT_FALSE(RetryAfterSeconds(StatusFromHttpResponse(odd)).has_value());
}

TEST(ByteBudgetTest, AdmitsWithinTheLimitAndOneOversizedRequestWhenEmpty) {
  ByteBudget budget(100);
  EXPECT_TRUE(budget.TryAcquire(60));
  EXPECT_FALSE(budget.TryAcquire(50));
  EXPECT_TRUE(budget.TryAcquire(40));
  EXPECT_EQ(budget.in_use(), 100);
  EXPECT_EQ(budget.refused(), 1);
  budget.Release(100);
  EXPECT_TRUE(budget.TryAcquire(500));  // alone, larger than the limit: admitted
  EXPECT_FALSE(budget.TryAcquire(1));
  budget.Unwind(500);
  EXPECT_EQ(budget.in_use(), 0);

  ByteBudget unlimited(0);
  EXPECT_TRUE(unlimited.TryAcquire(int64_t{1} << 40));
  EXPECT_TRUE(unlimited.TryAcquire(int64_t{1} << 40));
}

TEST(ByteBudgetTest, RetryAfterFollowsTheDrainRate) {
  ByteBudget budget(1000);
  EXPECT_EQ(budget.RetryAfterSeconds(), 1);  // nothing measured yet
  // Drains 100 bytes every 10 ms (10 kB/s) while 1000 bytes wait behind: about 0.1 s -> 1.
  ASSERT_TRUE(budget.TryAcquire(1000));
  budget.Release(0);  // starts the window
  for (int i = 0; i < 5; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    budget.Release(1);
  }
  // 5 bytes over >= 100 ms: <= 50 B/s; 995 bytes held -> capped at 60 s.
  const int slow = budget.RetryAfterSeconds();
  EXPECT_GE(slow, 10);
  EXPECT_LE(slow, 60);
}

}  // namespace
}  // namespace tessera::http
