// HttpClient against real servers and against raw sockets that misbehave: peers that close
// mid-request or mid-response, never answer, refuse; connection pooling and safe retries;
// response limits; streaming downloads with redirects; https with certificate verification.
#include "common/http/http_client.h"

#include <fstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/http/google_error.h"
#include "common/http/http_server.h"
#include "gtest/gtest.h"
#include "http_test_util.h"
#include "raw_socket.h"
#include "tls_test_server.h"

namespace tessera::http {
namespace {

using testing::ClientFor;
using testing::MakeRequest;
using testing::RawServer;
using testing::SendAllFd;
using testing::ServerOptions;
using testing::StartServer;
using testing::TcpUrl;
using testing::TempDir;
using testing::WaitFor;

constexpr char kOkResponse[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST(HttpClientTest, CreateRejectsBadOptions) {
  HttpClient::Options bad_url;
  bad_url.base_url = "ftp://x";
  EXPECT_EQ(HttpClient::Create(bad_url).status().code(), absl::StatusCode::kInvalidArgument);
  HttpClient::Options missing_ca;
  missing_ca.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(HttpClient::Create(missing_ca).status().code(), absl::StatusCode::kNotFound);
  // No base URL: fine for downloads, but Send() says why it cannot.
  auto client = HttpClient::Create(HttpClient::Options());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Send(MakeRequest("GET", "/"), absl::Seconds(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(HttpClientTest, RejectsBadRequests) {
  auto client = ClientFor("http://127.0.0.1:1");
  for (const char* target : {"", "no-slash", "/a b", "/a\r\nX: y"}) {
    EXPECT_EQ(client->Send(MakeRequest("GET", target), absl::Seconds(1)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << target;
  }
  HttpRequest bad_header = MakeRequest("GET", "/");
  bad_header.headers.Add("X-A", "1\r\nInjected: 2");
  EXPECT_EQ(client->Send(bad_header, absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Send(MakeRequest("BAD METHOD", "/"), absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpClientTest, UnavailableWhenNobodyListens) {
  int port;
  {
    auto server =
        StartServer(ServerOptions(WrapSync([](HttpRequest&&) { return HttpResponse(); })));
    port = server->port();
  }
  const absl::Time start = absl::Now();
  auto response = ClientFor(TcpUrl(port))->Send(MakeRequest("GET", "/"), absl::Seconds(10));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));

  TempDir dir;
  auto unix_response = ClientFor("unix:" + (dir.path() / "none.sock").string())
                           ->Send(MakeRequest("GET", "/"), absl::Seconds(10));
  EXPECT_EQ(unix_response.status().code(), absl::StatusCode::kUnavailable);
}

TEST(HttpClientTest, UnavailablePromptlyWhenPeerClosesAfterReadingTheRequest) {
  RawServer server([](RawServer& s, int fd, int) { s.ReadRequest(fd, absl::Seconds(5)); });
  const absl::Time start = absl::Now();
  auto response = ClientFor(TcpUrl(server.port()))
                      ->Send(MakeRequest("POST", "/predict", "{}"), absl::Seconds(30));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(HttpClientTest, UnavailableWhenPeerDiesMidResponse) {
  RawServer server([](RawServer& s, int fd, int) {
    s.ReadRequest(fd, absl::Seconds(5));
    SendAllFd(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly part of it");
  });
  const absl::Time start = absl::Now();
  auto response =
      ClientFor(TcpUrl(server.port()))->Send(MakeRequest("GET", "/"), absl::Seconds(30));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(HttpClientTest, UnavailablePromptlyWhenTheServerGoesAwayMidRequest) {
  absl::Notification entered;
  std::vector<Responder> held;
  auto server = StartServer(ServerOptions([&](HttpRequest&&, Responder r) {
    held.push_back(std::move(r));  // one request only: no lock needed
    entered.Notify();
  }));
  auto client = ClientFor(TcpUrl(server->port()));
  absl::StatusOr<HttpResponse> response;
  absl::Time returned;
  std::thread request([&] {
    response = client->Send(MakeRequest("POST", "/predict", "x"), absl::Seconds(30));
    returned = absl::Now();
  });
  entered.WaitForNotification();
  const absl::Time killed = absl::Now();
  server->Shutdown(absl::ZeroDuration());  // like a replica process dying
  request.join();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_LT(returned - killed, absl::Seconds(2));
}

TEST(HttpClientTest, DeadlineExceededWhenPeerNeverAnswers) {
  RawServer server([](RawServer& s, int fd, int) {
    s.ReadRequest(fd, absl::Seconds(5));
    s.WaitPeerClose(fd);
  });
  const absl::Time start = absl::Now();
  auto response =
      ClientFor(TcpUrl(server.port()))->Send(MakeRequest("GET", "/"), absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_GE(took, absl::Milliseconds(290));
  EXPECT_LT(took, absl::Seconds(2));
}

TEST(HttpClientTest, ResponseBodyOverTheLimitIsResourceExhausted) {
  auto server = StartServer(ServerOptions(
      WrapSync([](HttpRequest&&) { return TextResponse(200, std::string(100000, 'b')); })));
  HttpClient::Options options;
  options.base_url = TcpUrl(server->port());
  options.max_response_body_bytes = 1000;
  auto client = HttpClient::Create(options);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Send(MakeRequest("GET", "/"), absl::Seconds(5)).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(HttpClientTest, GoogleErrorsComeBackAsResponses) {
  auto server = StartServer(ServerOptions(WrapSync([](HttpRequest&&) {
    return GoogleErrorResponse(absl::NotFoundError("model 7 not found"));
  })));
  auto response =
      ClientFor(TcpUrl(server->port()))->Send(MakeRequest("GET", "/"), absl::Seconds(5));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(StatusFromHttpResponse(*response), absl::NotFoundError("model 7 not found"));
}

TEST(HttpClientTest, StalePooledConnectionIsReplacedTransparently) {
  HttpServer::Options options =
      ServerOptions(WrapSync([](HttpRequest&& r) { return TextResponse(200, r.body); }));
  options.idle_timeout = absl::Milliseconds(100);
  auto server = StartServer(options);
  auto client = ClientFor(TcpUrl(server->port()));
  ASSERT_TRUE(client->Send(MakeRequest("POST", "/", "1"), absl::Seconds(5)).ok());
  // The server closes the pooled connection for idleness.
  ASSERT_TRUE(WaitFor([&] { return server->stats().connections_active == 0; }));
  auto second = client->Send(MakeRequest("POST", "/", "2"), absl::Seconds(5));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->body, "2");
  EXPECT_EQ(client->stats().connections_opened, 2);
}

// The first connection answers one request, then reads the next and hangs up without a word
// (as a server closing an idle connection just as the request arrives, or a dying peer). Later
// connections answer normally.
void AnswerOnceThenDrop(RawServer& s, int fd, int index) {
  if (!s.ReadRequest(fd, absl::Seconds(5)).empty() && index > 0) {
    SendAllFd(fd, kOkResponse);
    s.WaitPeerClose(fd);
    return;
  }
  SendAllFd(fd, kOkResponse);
  s.ReadRequest(fd, absl::Seconds(5));
}

TEST(HttpClientTest, IdempotentRequestIsRetriedOnceOnAFreshConnection) {
  RawServer server(AnswerOnceThenDrop);
  auto client = ClientFor(TcpUrl(server.port()));
  ASSERT_TRUE(client->Send(MakeRequest("GET", "/a"), absl::Seconds(5)).ok());
  auto second = client->Send(MakeRequest("GET", "/b"), absl::Seconds(5));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->body, "ok");
  EXPECT_EQ(client->stats().retries, 1);
  EXPECT_EQ(client->stats().connections_opened, 2);
}

TEST(HttpClientTest, PostThatReachedThePeerIsNotResent) {
  RawServer server(AnswerOnceThenDrop);
  auto client = ClientFor(TcpUrl(server.port()));
  ASSERT_TRUE(client->Send(MakeRequest("POST", "/a", "x"), absl::Seconds(5)).ok());
  auto second = client->Send(MakeRequest("POST", "/predict", "y"), absl::Seconds(5));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_EQ(client->stats().retries, 0);
}

TEST(HttpClientTest, SharedAcrossThreads) {
  HttpServer::Options options =
      ServerOptions(WrapSync([](HttpRequest&& r) { return TextResponse(200, std::move(r.body)); }));
  options.io_threads = 2;
  auto server = StartServer(options);
  auto client = ClientFor(TcpUrl(server->port()));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        const std::string body = std::to_string(t) + ":" + std::to_string(i);
        auto r = client->Send(MakeRequest("POST", "/", body), absl::Seconds(20));
        if (!r.ok() || r->body != body) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(client->stats().connections_opened, 6);
}

// ---- Download ----

// A deterministic body: 64 KiB blocks of pseudo-random bytes, each block stamped with its
// index, so a lost, repeated or reordered block is caught. memcpy/memcmp only: quick under ASan.
constexpr size_t kBlock = 64 << 10;

const std::string& BaseBlock() {
  static const std::string* const block = [] {
    auto* b = new std::string(kBlock, '\0');
    uint32_t x = 2463534242u;
    for (char& c : *b) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      c = static_cast<char>(x);
    }
    return b;
  }();
  return *block;
}

std::string ExpectedBlock(size_t index, size_t size) {
  std::string block = BaseBlock().substr(0, size);
  const std::string stamp = std::to_string(index) + "|";
  block.replace(0, std::min(stamp.size(), size), stamp.substr(0, size));
  return block;
}

std::string Pattern(size_t n) {
  std::string s;
  s.reserve(n);
  for (size_t i = 0; s.size() < n; ++i) s += ExpectedBlock(i, std::min(kBlock, n - s.size()));
  return s;
}

// Downloads `url` into `*body` (cleared first).
absl::Status DownloadToString(HttpClient& client, const std::string& url, std::string* body,
                              int64_t max_bytes, absl::Duration timeout) {
  body->clear();
  return client.Download(
      url,
      [body](std::string_view piece) {
        body->append(piece);
        return absl::OkStatus();
      },
      max_bytes, timeout);
}

class DownloadTest : public ::testing::Test {
 protected:
  static constexpr size_t kLarge = 50 << 20;

  // Made once for the whole suite, and only if a test asks for it.
  static const std::string& Large() {
    static const std::string* const large = new std::string(Pattern(kLarge));
    return *large;
  }

  void SetUp() override {
    server_ = StartServer(ServerOptions(WrapSync([this](HttpRequest&& r) {
      const int port = server_port_.load();
      if (r.path == "/large.tar") return TextResponse(200, Large(), "application/x-tar");
      if (r.path == "/small") return TextResponse(200, "small body");
      HttpResponse redirect = TextResponse(302, "");
      if (r.path == "/r1") {
        redirect.headers.Set("Location", "r2");  // relative
      } else if (r.path == "/r2") {
        redirect.status = 301;
        redirect.headers.Set("Location", TcpUrl(port) + "/r3");  // absolute
      } else if (r.path == "/r3") {
        redirect.status = 307;
        redirect.headers.Set("Location", "/small");
      } else if (r.path == "/loop") {
        redirect.headers.Set("Location", "/loop");
      } else {
        return GoogleErrorResponse(absl::NotFoundError("no artifact at " + r.path));
      }
      return redirect;
    })));
    ASSERT_NE(server_, nullptr);
    server_port_.store(server_->port());
    client_ = ClientFor("");
  }

  std::string UrlFor(const std::string& path) const { return TcpUrl(server_->port()) + path; }

  std::string body_;
  std::atomic<int> server_port_{0};
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(DownloadTest, StreamsALargeBodyToASinkInOrderedPiecesAndStopsWhenTheSinkRefuses) {
  std::string received;
  size_t pieces = 0;
  size_t largest = 0;
  absl::Status s = client_->Download(
      UrlFor("/large.tar"),
      [&](std::string_view piece) {
        received.append(piece);
        ++pieces;
        largest = std::max(largest, piece.size());
        return absl::OkStatus();
      },
      kLarge, absl::Seconds(60));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(received == Large()) << "bytes lost, repeated or reordered";
  EXPECT_LE(largest, size_t{64} << 10);
  EXPECT_GE(pieces, kLarge / (64 << 10));

  // A sink that has seen enough ends the download with its own error, long before the end.
  size_t taken = 0;
  s = client_->Download(
      UrlFor("/large.tar"),
      [&](std::string_view piece) {
        taken += piece.size();
        return taken >= (1 << 20) ? absl::InvalidArgumentError("seen enough") : absl::OkStatus();
      },
      kLarge, absl::Seconds(60));
  EXPECT_EQ(s, absl::InvalidArgumentError("seen enough"));
  EXPECT_LT(taken, size_t{2} << 20);
}

TEST_F(DownloadTest, StopsAFlowingDownloadWhenAsked) {
  // Bytes keep arriving, so no read waits long enough for the 20 ms watch: `stopped` is asked
  // before each piece as well.
  size_t taken = 0;
  const absl::Status s = client_->Download(
      UrlFor("/large.tar"),
      [&](std::string_view piece) {
        taken += piece.size();
        return absl::OkStatus();
      },
      kLarge, absl::Seconds(60), [&] { return taken >= (1 << 20); });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_LT(taken, size_t{2} << 20);
}

TEST_F(DownloadTest, EnforcesMaxBytesFromContentLength) {
  const absl::Status s =
      DownloadToString(*client_, UrlFor("/large.tar"), &body_, kLarge - 1, absl::Seconds(60));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_TRUE(body_.empty()) << "refused before the body";
}

TEST_F(DownloadTest, EnforcesMaxBytesWhileStreamingABodyOfUnknownLength) {
  // No Content-Length: the body ends when the server closes.
  RawServer raw([](RawServer& s, int fd, int) {
    s.ReadRequest(fd, absl::Seconds(5));
    SendAllFd(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + Pattern(300000));
  });
  const std::string url = TcpUrl(raw.port()) + "/x";
  EXPECT_EQ(DownloadToString(*client_, url, &body_, 100000, absl::Seconds(10)).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_LE(body_.size(), 100000u) << "nothing past the limit reaches the sink";
  const absl::Status ok = DownloadToString(*client_, url, &body_, 300000, absl::Seconds(10));
  ASSERT_TRUE(ok.ok()) << ok;
  EXPECT_TRUE(body_ == Pattern(300000));
}

TEST_F(DownloadTest, FollowsRedirects) {
  const absl::Status s = DownloadToString(*client_, UrlFor("/r1"), &body_, 1000, absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(body_, "small body");
}

TEST_F(DownloadTest, RedirectLoopAndHttpErrorsFail) {
  const absl::Status loop =
      DownloadToString(*client_, UrlFor("/loop"), &body_, 1000, absl::Seconds(10));
  EXPECT_EQ(loop.code(), absl::StatusCode::kFailedPrecondition) << loop;
  EXPECT_NE(loop.message().find("redirects"), absl::string_view::npos);
  const absl::Status missing =
      DownloadToString(*client_, UrlFor("/missing.tar"), &body_, 1000, absl::Seconds(10));
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_NE(missing.message().find("no artifact at /missing.tar"), absl::string_view::npos);
  EXPECT_TRUE(body_.empty()) << "an error body is not the download";
  EXPECT_EQ(DownloadToString(*client_, "unix:/tmp/x.sock", &body_, 1, absl::Seconds(1)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DownloadTest, TimesOut) {
  RawServer raw([](RawServer& s, int fd, int) {
    s.ReadRequest(fd, absl::Seconds(5));
    SendAllFd(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst bytes only");
    s.WaitPeerClose(fd);
  });
  EXPECT_EQ(DownloadToString(*client_, TcpUrl(raw.port()) + "/", &body_, 1000,
                             absl::Milliseconds(300))
                .code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(body_, "first bytes only") << "pieces are handed over as they arrive";
}

TEST_F(DownloadTest, StopsAStalledDownloadWhenAsked) {
  // The server sends a head and then nothing: only `stopped` can end the wait before the
  // deadline, in the header and in the body alike.
  for (const bool stall_in_body : {false, true}) {
    RawServer raw([stall_in_body](RawServer& s, int fd, int) {
      s.ReadRequest(fd, absl::Seconds(5));
      if (stall_in_body) SendAllFd(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhead");
      s.WaitPeerClose(fd);
    });
    std::atomic<bool> stop{false};
    std::thread stopper([&] {
      absl::SleepFor(absl::Milliseconds(200));
      stop = true;
    });
    const absl::Time start = absl::Now();
    const absl::Status s = client_->Download(
        TcpUrl(raw.port()) + "/", [](std::string_view) { return absl::OkStatus(); }, 1000,
        absl::Seconds(60), [&] { return stop.load(); });
    stopper.join();
    EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
    EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "stopped long before the deadline";
  }
}

// ---- https ----

TEST(HttpsTest, VerifiesTheServerCertificate) {
  TempDir dir;
  const auto cert = dir.path() / "cert.pem";
  testing::TlsTestServer server(cert, "secret artifact");
  ASSERT_TRUE(server.ok());
  std::string body;

  // Untrusted (self-signed, not in the system store): refused by default.
  auto default_client = ClientFor("");
  const absl::Status refused = DownloadToString(
      *default_client, "https://localhost:" + std::to_string(server.port()) + "/a", &body, 1000,
      absl::Seconds(10));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_NE(refused.message().find("certificate verify failed"), absl::string_view::npos)
      << refused;

  // Trusted through ca_file: by name and by IP address.
  HttpClient::Options options;
  options.ca_file = cert.string();
  options.base_url = "https://127.0.0.1:" + std::to_string(server.port());
  auto client = HttpClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  const absl::Status ok =
      DownloadToString(**client, "https://localhost:" + std::to_string(server.port()) + "/a",
                       &body, 1000, absl::Seconds(10));
  ASSERT_TRUE(ok.ok()) << ok;
  EXPECT_EQ(body, "secret artifact");
  auto response = (*client)->Send(MakeRequest("GET", "/b"), absl::Seconds(10));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "secret artifact");

  // A certificate that does not name this host: refused even though it is trusted.
  const auto other_cert = dir.path() / "other.pem";
  testing::TlsTestServer other(other_cert, "x", "DNS:other.example");
  ASSERT_TRUE(other.ok());
  HttpClient::Options wrong_name;
  wrong_name.ca_file = other_cert.string();
  wrong_name.base_url = "https://127.0.0.1:" + std::to_string(other.port());
  auto mismatched = HttpClient::Create(wrong_name);
  ASSERT_TRUE(mismatched.ok());
  const absl::Status mismatch =
      (*mismatched)->Send(MakeRequest("GET", "/"), absl::Seconds(10)).status();
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kUnavailable) << mismatch;
  EXPECT_NE(mismatch.message().find("certificate verify failed"), absl::string_view::npos)
      << mismatch;
  // Verification off (tests only): accepted.
  wrong_name.verify_tls_peer = false;
  auto unverified = HttpClient::Create(wrong_name);
  ASSERT_TRUE(unverified.ok());
  EXPECT_TRUE((*unverified)->Send(MakeRequest("GET", "/"), absl::Seconds(10)).ok());
}

}  // namespace
}  // namespace tessera::http
