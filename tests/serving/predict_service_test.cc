// PredictionService over real sockets: stand-in replicas are real HttpServers on unix sockets
// (answering like `tessera replica`), a dead replica is a socket path nobody listens on. Covers the
// routing errors, retry-once on another replica, pass-through of replica errors, timeouts.
#include <atomic>
#include <functional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "common/http/google_error.h"
#include "common/http/http_server.h"
#include "gtest/gtest.h"
#include "serving/predict/predict_context.h"
#include "nlohmann/json.hpp"
#include "serving/predict/prediction_service.h"
#include "testing/fake_random.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::serving {
namespace {

using testing::FakeRandom;
using testing::ScopedTempDir;

constexpr char kEndpoint[] = "projects/p/locations/l/endpoints/1";

// A stand-in replica: answers POST /predict with `status` and `body` after `delay`.
class StandInReplica {
 public:
  StandInReplica(const std::string& socket, int status, std::string body,
                 absl::Duration delay = absl::ZeroDuration()) {
    http::HttpServer::Options options;
    options.tcp_address = "";
    options.unix_socket_path = socket;
    options.handler = [this, status, body, delay](http::HttpRequest&& request,
                                                  http::Responder responder) {
      requests_.fetch_add(1);
      {
        absl::MutexLock lock(&mu_);
        last_body_ = request.body;
        last_request_id_ = request.request_id;
      }
      if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
      http::HttpResponse response;
      response.status = status;
      response.content_type = "application/json";
      response.body = body;
      responder.Respond(std::move(response));
    };
    auto server = http::HttpServer::Create(options);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  int requests() const { return requests_.load(); }
  std::string last_body() const {
    absl::MutexLock lock(&mu_);
    return last_body_;
  }
  std::string last_request_id() const {
    absl::MutexLock lock(&mu_);
    return last_request_id_;
  }

 private:
  std::atomic<int> requests_{0};
  mutable absl::Mutex mu_;
  std::string last_body_ ABSL_GUARDED_BY(mu_);
  std::string last_request_id_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<http::HttpServer> server_;
};

class PredictionServiceTest : public ::testing::Test {
 protected:
  // Publishes one endpoint with one deployed model "7" whose replicas are at `sockets`.
  void Publish(const std::vector<std::string>& sockets) {
    RoutedDeployedModel dm;
    dm.id = "7";
    dm.model = "projects/p/locations/l/models/3";
    dm.model_version_id = "2";
    dm.model_display_name = "fashion";
    for (size_t i = 0; i < sockets.size(); ++i) {
      dm.ready_replicas.push_back(RoutedReplica{.replica_id = "7-" + std::to_string(i),
                                                .address = "unix:" + sockets[i],
                                                .load = std::make_shared<ReplicaLoad>()});
    }
    RoutedEndpoint endpoint{
        .id = kEndpoint, .name = kEndpoint, .deployed_models = {dm}, .traffic_split = {{"7", 100}}};
    RoutedEndpoint empty{.id = "projects/p/locations/l/endpoints/empty",
                         .name = "projects/p/locations/l/endpoints/empty"};
    auto table = RoutingTableBuilder(1).AddEndpoint(endpoint).AddEndpoint(empty).Build();
    ASSERT_TRUE(table.ok()) << table.status();
    routing_.Publish(*table);
  }
  std::unique_ptr<PredictionService> Service(absl::Duration timeout = absl::Seconds(10)) {
    auto service = PredictionService::Create({.routing = &routing_,
                                              .endpoints = nullptr,
                                              .random = &random_,
                                              .request_timeout = timeout});
    EXPECT_TRUE(service.ok());
    return std::move(*service);
  }
  std::string Socket(const std::string& name) { return (tmp_.path() / name).string(); }

  ScopedTempDir tmp_;
  RoutingTableHolder routing_;
  FakeRandom random_{0.0};  // ties go to the first replica
};

const char kGood[] = R"({"predictions":[{"label":"Sneaker","confidence":0.9}]})";

TEST_F(PredictionServiceTest, RoutingErrors) {
  Publish({Socket("a.sock")});
  auto service = Service();
  auto r = service->PredictEndpoint("projects/p/locations/l/endpoints/404", "", {.body = "{}"});
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  r = service->PredictEndpoint("projects/p/locations/l/endpoints/empty", "", {.body = "{}"});
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  r = service->PredictEndpoint(kEndpoint, "99", {.body = "{}"});
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
}

TEST_F(PredictionServiceTest, AnswersWithTheDeployedModelThatServed) {
  StandInReplica replica(Socket("a.sock"), 200, kGood);
  Publish({Socket("a.sock")});
  auto service = Service();
  auto reply = service->PredictEndpoint(kEndpoint, "", {.body = R"({"instances":[1]})"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, kGood);
  EXPECT_EQ(reply->served_by.deployed_model_id, "7");
  EXPECT_EQ(reply->served_by.model, "projects/p/locations/l/models/3");
  EXPECT_EQ(reply->served_by.model_version_id, "2");
  EXPECT_EQ(reply->served_by.model_display_name, "fashion");
  EXPECT_EQ(reply->served_by.replica_id, "7-0");
  EXPECT_EQ(reply->served_by.attempts, 1);
  EXPECT_EQ(replica.last_body(), R"({"instances":[1]})");
  // By model version too (TF Serving / KServe path).
  reply = service->PredictModelVersion("3", "2", {.body = "{}"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->served_by.deployed_model_id, "7");
  EXPECT_TRUE(absl::IsNotFound(service->PredictModelVersion("3", "9", {.body = "{}"}).status()));
}

TEST_F(PredictionServiceTest, TheClientsRequestIdReachesTheReplica) {
  // So that a failure the client reports by its id is found in the replica's log too.
  StandInReplica replica(Socket("a.sock"), 200, kGood);
  Publish({Socket("a.sock")});
  auto service = Service();
  {
    ScopedPredictContext scope(PredictContext{.request_id = "client-trace-42"});
    ASSERT_TRUE(service->PredictEndpoint(kEndpoint, "", {.body = "{}"}).ok());
  }
  EXPECT_EQ(replica.last_request_id(), "client-trace-42");
  ASSERT_TRUE(service->PredictEndpoint(kEndpoint, "", {.body = "{}"}).ok());
  EXPECT_NE(replica.last_request_id(), "client-trace-42") << "no id: the replica makes its own";
  EXPECT_FALSE(replica.last_request_id().empty());
}

TEST_F(PredictionServiceTest, DeadReplicaIsRetriedOnceOnAnother) {
  // Replica 0 is dead (nobody listens); the pick goes there first (tie, draw 0.0).
  StandInReplica alive(Socket("b.sock"), 200, kGood);
  Publish({Socket("dead.sock"), Socket("b.sock")});
  auto service = Service();
  auto reply = service->PredictEndpoint(kEndpoint, "", {.body = "{}"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->served_by.replica_id, "7-1");
  EXPECT_EQ(reply->served_by.attempts, 2);
  EXPECT_EQ(alive.requests(), 1);
}

TEST_F(PredictionServiceTest, QueueFullIsRetriedOnAnotherReplica) {
  StandInReplica full(
      Socket("a.sock"), 429,
      http::GoogleErrorJson(429, absl::ResourceExhaustedError("queue full")).dump());
  StandInReplica alive(Socket("b.sock"), 200, kGood);
  Publish({Socket("a.sock"), Socket("b.sock")});
  auto reply = Service()->PredictEndpoint(kEndpoint, "", {.body = "{}"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->served_by.attempts, 2);
  EXPECT_EQ(full.requests(), 1);
}

TEST_F(PredictionServiceTest, EveryReplicaDeadIsUnavailable) {
  Publish({Socket("dead1.sock"), Socket("dead2.sock")});
  auto reply = Service()->PredictEndpoint(kEndpoint, "", {.body = "{}"});
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
  // One replica only: no other to retry on, still UNAVAILABLE (not a routing error).
  Publish({Socket("dead1.sock")});
  reply = Service()->PredictEndpoint(kEndpoint, "", {.body = "{}"});
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
}

TEST_F(PredictionServiceTest, BadInstanceErrorPassesThroughWithoutRetry) {
  const std::string error =
      http::GoogleErrorJson(400, absl::InvalidArgumentError("instance 2: not an image")).dump();
  StandInReplica a(Socket("a.sock"), 400, error);
  StandInReplica b(Socket("b.sock"), 400, error);
  Publish({Socket("a.sock"), Socket("b.sock")});
  auto reply = Service()->PredictEndpoint(kEndpoint, "", {.body = "{}"});
  ASSERT_TRUE(absl::IsInvalidArgument(reply.status())) << reply.status();
  EXPECT_EQ(reply.status().message(), "instance 2: not an image");
  EXPECT_EQ(a.requests() + b.requests(), 1);
}

TEST_F(PredictionServiceTest, SlowReplicaTimesOut) {
  StandInReplica slow(Socket("a.sock"), 200, kGood, absl::Milliseconds(700));
  Publish({Socket("a.sock")});
  const absl::Time start = absl::Now();
  auto reply = Service(absl::Milliseconds(200))->PredictEndpoint(kEndpoint, "", {.body = "{}"});
  EXPECT_TRUE(absl::IsDeadlineExceeded(reply.status())) << reply.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

// The supervisor publishes a table without a replica, then drains it. A request that took the
// older snapshot just before may pick that replica after the drain started: it must pick again
// from the newer table, never fail.
TEST_F(PredictionServiceTest, PickFromAStaleSnapshotFollowsTheNewerTable) {
  StandInReplica next(Socket("b.sock"), 200, kGood);
  auto draining = std::make_shared<ReplicaLoad>();
  auto table_with = [&](const std::string& id, const std::string& socket,
                        std::shared_ptr<ReplicaLoad> load, uint64_t generation) {
    RoutedDeployedModel dm{
        .id = id, .model = "projects/p/locations/l/models/3", .model_version_id = "2"};
    dm.ready_replicas.push_back(RoutedReplica{
        .replica_id = id + "-0", .address = "unix:" + socket, .load = std::move(load)});
    auto table = RoutingTableBuilder(generation)
                     .AddEndpoint(RoutedEndpoint{.id = kEndpoint,
                                                 .name = kEndpoint,
                                                 .deployed_models = {dm},
                                                 .traffic_split = {{id, 100}}})
                     .Build();
    EXPECT_TRUE(table.ok()) << table.status();
    return *table;
  };
  routing_.Publish(table_with("7", Socket("gone.sock"), draining, 1));
  const std::shared_ptr<const RoutingTable> newer =
      table_with("8", Socket("b.sock"), std::make_shared<ReplicaLoad>(), 2);

  // The supervisor acts between the request's snapshot and its lease: the split draw is the
  // moment in between.
  class SupervisorActsDuringPick final : public RandomSource {
   public:
    explicit SupervisorActsDuringPick(std::function<void()> act) : act_(std::move(act)) {}
    double Uniform() override {
      if (act_) std::exchange(act_, nullptr)();
      return 0.0;
    }

   private:
    std::function<void()> act_;
  } random([&] {
    routing_.Publish(newer);
    draining->StartDrain();
  });
  auto service = PredictionService::Create(
      {.routing = &routing_, .random = &random, .request_timeout = absl::Seconds(10)});
  ASSERT_TRUE(service.ok());
  auto reply = (*service)->PredictEndpoint(kEndpoint, "", {.body = "{}"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->served_by.deployed_model_id, "8");
  EXPECT_EQ(reply->served_by.attempts, 1);
  EXPECT_EQ(next.requests(), 1);
}

}  // namespace
}  // namespace tessera::serving
