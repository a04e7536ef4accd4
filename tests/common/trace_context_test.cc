#include "common/tracing/trace_context.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <set>

#include "absl/synchronization/mutex.h"
#include "common/http/http_server.h"
#include "common/tracing/span_exporter.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tessera::tracing {
namespace {

TEST(TraceContextTest, ParsesAndFormatsTheW3CExample) {
  const std::string header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::optional<TraceContext> context = ParseTraceparent(header);
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(context->span_id, "00f067aa0ba902b7");
  EXPECT_TRUE(context->sampled);
  EXPECT_EQ(FormatTraceparent(*context), header);
  EXPECT_FALSE(
      ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled);
  // A later version is read by its first four fields.
  EXPECT_TRUE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")
                  .has_value());
}

TEST(TraceContextTest, RefusesWhatTheSpecRefuses) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",     // short
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // 00 with more
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero span id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceContextTest, NewIdsAreHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string trace = NewTraceId(), span = NewSpanId();
    EXPECT_EQ(trace.size(), 32u);
    EXPECT_EQ(span.size(), 16u);
    EXPECT_TRUE(ParseTraceparent(FormatTraceparent({trace, span, true})).has_value());
    EXPECT_TRUE(seen.insert(trace).second);
  }
}

TEST(OtlpJsonTest, WritesOtlpJsonSpans) {
  const Span span{.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                  .span_id = "00f067aa0ba902b7",
                  .parent_span_id = "1111111111111111",
                  .name = "predict vertex",
                  .kind = SpanKind::kServer,
                  .start = absl::FromUnixNanos(1000),
                  .end = absl::FromUnixNanos(5000),
                  .attributes = {{"http.response.status_code", "503"}},
                  .error = true,
                  .error_message = "HTTP 503"};
  const nlohmann::json body = nlohmann::json::parse(OtlpJson({span}, "tessera"));
  const nlohmann::json& resource = body["resourceSpans"][0];
  EXPECT_EQ(resource["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(resource["resource"]["attributes"][0]["value"]["stringValue"], "tessera");
  const nlohmann::json& s = resource["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(s["traceId"], span.trace_id);
  EXPECT_EQ(s["parentSpanId"], "1111111111111111");
  EXPECT_EQ(s["kind"], 2);
  EXPECT_EQ(s["startTimeUnixNano"], "1000");  // a string: 64-bit integers in OTLP/JSON
  EXPECT_EQ(s["endTimeUnixNano"], "5000");
  EXPECT_EQ(s["status"]["code"], 2);
  EXPECT_EQ(s["attributes"][0]["value"]["stringValue"], "503");
}

TEST(OtlpHttpExporterTest, RefusesAnEndpointThatIsNotAnHttpUrl) {
  EXPECT_FALSE(OtlpHttpExporter::Create({.endpoint = "collector:4318"}).ok());
  EXPECT_FALSE(OtlpHttpExporter::Create({.endpoint = "unix:/tmp/x.sock"}).ok());
  EXPECT_FALSE(OtlpHttpExporter::Create({.endpoint = "http://gateway/otlp"}).ok());
  EXPECT_TRUE(OtlpHttpExporter::Create({.endpoint = "http://127.0.0.1:4318"}).ok());
}

// A collector: a real HttpServer that keeps every POST /v1/traces body; `status` answers.
class Collector {
 public:
  explicit Collector(int status) {
    http::HttpServer::Options options;
    options.handler = [this, status](http::HttpRequest&& request, http::Responder responder) {
      {
        absl::MutexLock lock(&mu_);
        if (request.method == "POST" && request.target == "/v1/traces") {
          bodies_.push_back(nlohmann::json::parse(request.body));
        }
      }
      responder.Respond(http::JsonResponse(status, nlohmann::json::object()));
    };
    server_ = *http::HttpServer::Create(options);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  int spans() {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const auto& body : bodies_) n += body["resourceSpans"][0]["scopeSpans"][0]["spans"].size();
    return n;
  }

 private:
  absl::Mutex mu_;
  std::vector<nlohmann::json> bodies_;
  std::unique_ptr<http::HttpServer> server_;
};

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 200 && !done(); ++i) absl::SleepFor(absl::Milliseconds(20));
  return done();
}

TEST(OtlpHttpExporterTest, DeliversBatchesToTheCollector) {
  Collector collector(200);
  auto exporter = *OtlpHttpExporter::Create(
      {.endpoint = collector.url(), .max_batch = 4, .interval = absl::Milliseconds(20)});
  for (int i = 0; i < 10; ++i) {
    exporter->Export(Span{.trace_id = NewTraceId(), .span_id = NewSpanId(), .name = "s"});
  }
  EXPECT_TRUE(WaitFor([&] { return collector.spans() == 10; }));
  EXPECT_EQ(exporter->exported(), 10);
  EXPECT_EQ(exporter->dropped(), 0);
}

TEST(OtlpHttpExporterTest, DropsAndCountsWhatItCannotDeliver) {
  Collector refusing(503);
  auto exporter = *OtlpHttpExporter::Create(
      {.endpoint = refusing.url(), .max_queued = 4, .interval = absl::Milliseconds(20)});
  for (int i = 0; i < 10; ++i) {
    exporter->Export(Span{.trace_id = NewTraceId(), .span_id = NewSpanId(), .name = "s"});
  }
  // Beyond 4 queued: dropped at once; the others when the collector refuses them.
  EXPECT_TRUE(WaitFor([&] { return exporter->dropped() == 10; }));
  EXPECT_EQ(exporter->exported(), 0);
}

TEST(OtlpHttpExporterTest, ShutdownGivesASilentCollectorOneTimeoutInAll) {
  // A socket that listens and never accepts: connections land in its backlog, nothing answers.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(fd, 64), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  auto exporter = *OtlpHttpExporter::Create(
      {.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)),
       .max_batch = 2,
       .interval = absl::Hours(1),
       .timeout = absl::Milliseconds(300)});
  for (int i = 0; i < 20; ++i) {
    exporter->Export(Span{.trace_id = NewTraceId(), .span_id = NewSpanId(), .name = "s"});
  }
  const absl::Time start = absl::Now();
  exporter.reset();  // 10 batches: a batch in flight, then one 300 ms budget for the rest
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));  // 10 x 300 ms before this bound existed
  ::close(fd);
}

}  // namespace
}  // namespace tessera::tracing
