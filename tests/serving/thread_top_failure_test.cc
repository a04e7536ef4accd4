// No exception reaches a serving thread's top: a throwing BlockingExecutor task, predict Offload
// work, or KServe gRPC method is answered (500 / INTERNAL with a request id) and the next request
// is served. Real HttpServer and a real gRPC channel.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "absl/synchronization/notification.h"
#include "common/http/google_error.h"
#include "common/http/http_client.h"
#include "common/http/http_server.h"
#include "control/random_source.h"
#include "control/routing_table.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "serving/front_door/front_door.h"
#include "serving/grpc/kserve_grpc_server.h"
#include "serving/grpc/kserve_v2.grpc.pb.h"
#include "serving/predict/model_resolver.h"
#include "serving/predict/offload.h"
#include "serving/predict/prediction_service.h"
#include "serving/rest/blocking_executor.h"

namespace tessera::serving {
namespace {

using ::testing::HasSubstr;

struct NotAnException {};

// Throws what `kind` names; returns for anything else.
void ThrowKind(const std::string& kind) {
  if (kind == "length_error") throw std::length_error("vector::_M_default_append");
  if (kind == "int") throw 42;
  if (kind == "struct") throw NotAnException{};
}

TEST(BlockingExecutorFailureTest, ThrowingTasksDoNotEndTheWorker) {
  rest::BlockingExecutor executor({.threads = 1});
  ASSERT_TRUE(executor.Submit([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(executor.Submit([] { throw 42; }));
  absl::Notification ran;
  ASSERT_TRUE(executor.Submit([&] { ran.Notify(); }));
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

// A task whose Responder dies unanswered because the task threw: the client still gets a 500
// with its request id (the Responder's fallback), and the executor serves the next request.
TEST(BlockingExecutorFailureTest, RequestTaskThatThrowsIsStillAnswered) {
  rest::BlockingExecutor executor({.threads = 1});
  http::HttpServer::Options options;
  options.handler = [&](http::HttpRequest&& request, http::Responder responder) {
    const bool throws = request.path == "/throw";
    executor.Submit([throws, responder] {
      if (throws) throw 42;
      responder.Respond(http::TextResponse(200, "fine"));
    });
  };
  auto server = http::HttpServer::Create(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = http::HttpClient::Create({.base_url = fmt::format("http://127.0.0.1:{}",
                                                                  (*server)->port())});
  ASSERT_TRUE(client.ok());
  http::HttpRequest request{.method = "GET", .target = "/throw"};
  request.headers.Set("X-Request-Id", "exec-1");
  auto thrown = (*client)->Send(request, absl::Seconds(30));
  ASSERT_TRUE(thrown.ok()) << thrown.status();
  EXPECT_EQ(thrown->status, 500);
  EXPECT_THAT(thrown->body, HasSubstr("exec-1"));
  auto fine = (*client)->Send({.method = "GET", .target = "/ok"}, absl::Seconds(30));
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->body, "fine");
  (*server)->Shutdown(absl::Seconds(5));
}

class OffloadFailureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OffloadFailureTest, ThrowingWorkIsAnswered500WithTheRequestIdAndTheNextIsServed) {
  const std::string kind = GetParam();
  rest::BlockingExecutor executor({.threads = 1});
  http::HttpServer::Options options;
  options.handler = OffloadedHandler(PredictRunner{.executor = &executor}, PredictProtocol::kVertex,
                                     [kind](http::HttpRequest& request) -> http::HttpResponse {
                                       if (request.path == "/throw") ThrowKind(kind);
                                       return http::TextResponse(200, "served");
                                     });
  auto server = http::HttpServer::Create(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = http::HttpClient::Create({.base_url = fmt::format("http://127.0.0.1:{}",
                                                                  (*server)->port())});
  ASSERT_TRUE(client.ok());
  http::HttpRequest request{.method = "POST", .target = "/throw"};
  request.headers.Set("X-Request-Id", "offload-" + kind);
  auto thrown = (*client)->Send(request, absl::Seconds(30));
  ASSERT_TRUE(thrown.ok()) << thrown.status();
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(http::StatusFromHttpResponse(*thrown).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(thrown->headers.GetOr("X-Request-Id", ""), "offload-" + kind);
  const nlohmann::json body = nlohmann::json::parse(thrown->body);
  EXPECT_EQ(body["error"]["details"][0]["requestId"], "offload-" + kind) << thrown->body;
  EXPECT_THAT(body["error"]["message"].get<std::string>(), HasSubstr("offload-" + kind));
  auto next = (*client)->Send({.method = "POST", .target = "/ok"}, absl::Seconds(30));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->body, "served");
  (*server)->Shutdown(absl::Seconds(5));
}

INSTANTIATE_TEST_SUITE_P(Kinds, OffloadFailureTest,
                         ::testing::Values("length_error", "int", "struct"));

class KserveGrpcFailureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto predictions = PredictionService::Create({.routing = &routing_, .random = &random_});
    ASSERT_TRUE(predictions.ok()) << predictions.status();
    predictions_ = *std::move(predictions);
    const std::string kind = GetParam();
    auto server =
        KserveGrpcServer::Start({.listen = "127.0.0.1:0",
                                 .predictions = predictions_.get(),
                                 .resolver = &resolver_,
                                 .door = &door_,
                                 .before_call_for_test = [this, kind](std::string_view method) {
                                   if (method == "ModelInfer" && calls_.fetch_add(1) == 0)
                                     ThrowKind(kind);
                                 }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
        fmt::format("127.0.0.1:{}", server_->port()), grpc::InsecureChannelCredentials()));
  }

  RoutingTableHolder routing_;
  SeededRandom random_{1};
  ModelResolver resolver_{nullptr};
  RealClock clock_;
  FrontDoor door_{{.clock = &clock_}};  // authentication off: the failures are the subject
  std::unique_ptr<PredictionService> predictions_;
  std::atomic<int> calls_{0};
  std::unique_ptr<KserveGrpcServer> server_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

TEST_P(KserveGrpcFailureTest, ThrowingMethodAnswersInternalWithTheRequestIdAndServesOn) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  context.AddMetadata("x-request-id", "grpc-1");
  inference::ModelInferRequest request;
  request.set_model_name("m");
  inference::ModelInferResponse response;
  const grpc::Status thrown = stub_->ModelInfer(&context, request, &response);
  EXPECT_EQ(thrown.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(thrown.error_message(), HasSubstr("grpc-1"));
  const auto& trailing = context.GetServerTrailingMetadata();
  const auto id = trailing.find("x-request-id");
  ASSERT_NE(id, trailing.end());
  EXPECT_EQ(std::string(id->second.data(), id->second.size()), "grpc-1");

  // The next call reaches the method and gets its real answer: no such model.
  grpc::ClientContext again;
  again.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  inference::ModelInferResponse second;
  const grpc::Status served = stub_->ModelInfer(&again, request, &second);
  EXPECT_EQ(served.error_code(), grpc::StatusCode::NOT_FOUND) << served.error_message();
  grpc::ClientContext live_context;
  inference::ServerLiveResponse live;
  EXPECT_TRUE(stub_->ServerLive(&live_context, {}, &live).ok());
  EXPECT_TRUE(live.live());
}

INSTANTIATE_TEST_SUITE_P(Kinds, KserveGrpcFailureTest,
                         ::testing::Values("length_error", "int", "struct"));

}  // namespace
}  // namespace tessera::serving
