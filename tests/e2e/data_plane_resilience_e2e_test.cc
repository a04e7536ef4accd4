// The data plane under load on the real binary: kill -9 a replica (no request lost or hung, the
// replica comes back), undeploy a model (no failed request), a hung (SIGSTOP) replica (nothing
// else waits for it; it is replaced), autoscaling (load grows the replica
// count, quiet shrinks it back to min, every decision visible in the API).
#include <signal.h>
#include <stdlib.h>

#include "e2e/data_plane_fixture.h"

namespace tessera::testing {
namespace {

using nlohmann::json;

std::string Summary(const DataPlaneTest::LoadResult& r) {
  std::string s = std::to_string(r.ok) + " ok, " + std::to_string(r.failures.size()) + " failed";
  for (size_t i = 0; i < r.failures.size() && i < 3; ++i) s += "\n  " + r.failures[i];
  return s;
}

class DataPlaneResilienceE2E : public DataPlaneTest {};

TEST_F(DataPlaneResilienceE2E, KillNineAReplicaUnderLoadLosesNoRequest) {
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  const std::string id = Deploy(endpoint, model, 2, 2);
  ASSERT_FALSE(id.empty());
  json status = Replicas(endpoint, id);
  ASSERT_EQ(status["readyReplicaCount"], 2) << status.dump();
  const int victim = status["replicas"][0]["pid"];

  StartLoad(endpoint, PredictBody({FashionImage("0008-sandal.png")}), 6);
  ASSERT_TRUE(Eventually([&] { return LoadCompleted() >= 50; }, absl::Seconds(30)));
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  const int at_kill = LoadCompleted();
  // Keep the load on while the supervisor notices, routes around it and restarts it.
  EXPECT_TRUE(Eventually(
      [&] {
        json s = Replicas(endpoint, id);
        return s["readyReplicaCount"] == 2 && s["replicas"][0]["pid"] != victim;
      },
      absl::Seconds(30)));
  EXPECT_TRUE(Eventually([&] { return LoadCompleted() >= at_kill + 100; }, absl::Seconds(30)));
  LoadResult result = StopLoad();
  EXPECT_TRUE(result.failures.empty()) << Summary(result);
  EXPECT_GT(result.ok, 150);
  // How many requests the kill caught at the replica (each retried on the other one).
  const std::string log = server_->Log();
  int retried = 0;
  for (size_t pos = log.find("attempt 1 of 2"); pos != std::string::npos;
       pos = log.find("attempt 1 of 2", pos + 1)) {
    ++retried;
  }
  std::fprintf(stderr, "kill -9 under load: %d ok, %d retried on the other replica\n", result.ok,
               retried);
  status = Replicas(endpoint, id);
  EXPECT_EQ(status["replicas"][0]["restarts"], 1) << status.dump();
  EXPECT_NE(status["replicas"][0]["lastError"].get<std::string>().find("signal 9"),
            std::string::npos)
      << status.dump();
}

TEST_F(DataPlaneResilienceE2E, UndeployUnderLoadFailsNoRequest) {
  StartServer();
  const std::string v1 = Upload("fashion");
  const std::string v2 = Upload("fashion", v1.substr(0, v1.find('@')));
  const std::string endpoint = CreateEndpoint();
  const std::string id1 = Deploy(endpoint, v1, 1, 1);
  const std::string id2 = Deploy(endpoint, v2, 1, 1, json{{id1, 50}, {"0", 50}});
  ASSERT_FALSE(id1.empty());
  ASSERT_FALSE(id2.empty());
  const int v2_pid = Replicas(endpoint, id2)["replicas"][0]["pid"];

  StartLoad(endpoint, PredictBody({FashionImage("0010-coat.png")}), 6);
  ASSERT_TRUE(Eventually([&] { return LoadCompleted() >= 60; }, absl::Seconds(30)));
  auto undeployed = Undeploy(endpoint, id2, json{{id1, 100}});
  ASSERT_TRUE(undeployed.body.value("done", false)) << undeployed.raw;
  EXPECT_FALSE(undeployed.body.contains("error")) << undeployed.raw;
  // Its replica drained and exited before the operation completed.
  EXPECT_NE(::kill(v2_pid, 0), 0);
  const int after = LoadCompleted();
  ASSERT_TRUE(Eventually([&] { return LoadCompleted() >= after + 60; }, absl::Seconds(30)));
  LoadResult result = StopLoad();
  EXPECT_TRUE(result.failures.empty()) << Summary(result);
  EXPECT_GT(result.by_deployed_model[id2], 0);  // it did serve before the undeploy
  // Every request after the undeploy went to id1.
  for (int i = 0; i < 10; ++i) {
    PredictReply r = Predict(endpoint, PredictBody({FashionImage("0010-coat.png")}));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["deployedModelId"], id1);
  }
}

// A hung replica (SIGSTOP: its socket accepts, nothing answers) must not hold the supervisor: the
// other deployment keeps serving under load and a deploy next to it completes and serves, while
// the hung replica fails its health probes, leaves routing, is killed and replaced.
TEST_F(DataPlaneResilienceE2E, HungReplicaDelaysNoOtherDeploymentAndIsReplaced) {
  StartServer();
  const std::string model = Upload("fashion");
  const std::string hung_endpoint = CreateEndpoint("hung");
  const std::string busy_endpoint = CreateEndpoint("busy");
  const std::string hung_id = Deploy(hung_endpoint, model, 1, 1);
  const std::string busy_id = Deploy(busy_endpoint, model, 1, 1);
  ASSERT_FALSE(hung_id.empty());
  ASSERT_FALSE(busy_id.empty());
  const int victim = Replicas(hung_endpoint, hung_id)["replicas"][0]["pid"];
  // Whatever happens below, no stopped process outlives the test.
  struct Resume {
    int pid;
    ~Resume() {
      if (::kill(pid, 0) == 0) {
        ::kill(pid, SIGKILL);
        ::kill(pid, SIGCONT);
      }
    }
  } resume{victim};

  StartLoad(busy_endpoint, PredictBody({FashionImage("0008-sandal.png")}), 4);
  ASSERT_TRUE(Eventually([&] { return LoadCompleted() >= 20; }, absl::Seconds(30)));
  ASSERT_EQ(::kill(victim, SIGSTOP), 0);

  // Routing and deployments proceed meanwhile: a second model joins the busy endpoint and serves.
  const std::string joined = Deploy(busy_endpoint, model, 1, 1, json{{busy_id, 50}, {"0", 50}});
  ASSERT_FALSE(joined.empty());
  EXPECT_TRUE(Eventually(
      [&] {
        PredictReply r = Predict(busy_endpoint, PredictBody({FashionImage("0008-sandal.png")}),
                                 {{"X-Vertex-AI-Deployed-Model-Id", joined}});
        return r.status == 200 && r.body.value("deployedModelId", "") == joined;
      },
      absl::Seconds(30)));

  // The hung replica: failed its probes, killed (SIGKILL reaches a stopped process), replaced.
  EXPECT_TRUE(Eventually(
      [&] {
        json s = Replicas(hung_endpoint, hung_id);
        return s["readyReplicaCount"] == 1 && s["replicas"][0]["pid"] != victim;
      },
      absl::Seconds(90)))
      << Replicas(hung_endpoint, hung_id).dump();
  EXPECT_TRUE(Eventually([&] { return ::kill(victim, 0) != 0; }, absl::Seconds(10)));
  json hung = Replicas(hung_endpoint, hung_id);
  EXPECT_EQ(hung["replicas"][0]["restarts"], 1) << hung.dump();
  EXPECT_NE(hung["replicas"][0]["lastError"].get<std::string>().find("health checks in a row"),
            std::string::npos)
      << hung.dump();
  // And it serves again.
  PredictReply after = Predict(hung_endpoint, PredictBody({FashionImage("0008-sandal.png")}));
  EXPECT_EQ(after.status, 200) << after.raw;

  const int at_end = LoadCompleted();
  ASSERT_TRUE(Eventually([&] { return LoadCompleted() >= at_end + 10; }, absl::Seconds(30)));
  LoadResult result = StopLoad();
  // Not one request to the other deployment failed while the replica hung.
  EXPECT_TRUE(result.failures.empty()) << Summary(result);
  EXPECT_GT(result.by_deployed_model[busy_id], 0);
}

TEST_F(DataPlaneResilienceE2E, LoadScalesUpAndQuietScalesBackToMin) {
  // Fast autoscaler: every 300 ms, aim at 1 request in flight per replica, 2 s scale-down window.
  ::setenv("TESSERA_AUTOSCALER_INTERVAL_MS", "300", 1);
  ::setenv("TESSERA_AUTOSCALER_TARGET_IN_FLIGHT", "1", 1);
  ::setenv("TESSERA_AUTOSCALER_SCALE_DOWN_WINDOW_S", "2", 1);
  StartServer();
  ::unsetenv("TESSERA_AUTOSCALER_INTERVAL_MS");
  ::unsetenv("TESSERA_AUTOSCALER_TARGET_IN_FLIGHT");
  ::unsetenv("TESSERA_AUTOSCALER_SCALE_DOWN_WINDOW_S");
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  const std::string id = Deploy(endpoint, model, 1, 3);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Replicas(endpoint, id)["desiredReplicaCount"], 1);

  // Eight images per request from 8 clients keep several requests in flight.
  std::vector<std::filesystem::path> images(8, FashionImage("0012-sneaker.png"));
  StartLoad(endpoint, PredictBody(images), 8);
  EXPECT_TRUE(Eventually(
      [&] {
        json s = Replicas(endpoint, id);
        return s["desiredReplicaCount"].get<int>() >= 2 && s["readyReplicaCount"].get<int>() >= 2;
      },
      absl::Seconds(60)))
      << Replicas(endpoint, id).dump();
  LoadResult result = StopLoad();
  EXPECT_TRUE(result.failures.empty()) << Summary(result);

  // Quiet: back to min once the scale-down window passed.
  EXPECT_TRUE(Eventually(
      [&] {
        json s = Replicas(endpoint, id);
        return s["desiredReplicaCount"] == 1 && s["replicas"].size() == 1u;
      },
      absl::Seconds(60)))
      << Replicas(endpoint, id).dump();
  // Both decisions are in the API with their reasons.
  json events = Replicas(endpoint, id)["autoscalingEvents"];
  bool up = false, down = false;
  for (const json& e : events) {
    if (e["desiredReplicaCount"] > e["currentReplicaCount"]) up = true;
    if (e["desiredReplicaCount"] < e["currentReplicaCount"]) down = true;
    EXPECT_FALSE(e["reason"].get<std::string>().empty()) << e.dump();
  }
  EXPECT_TRUE(up) << events.dump();
  EXPECT_TRUE(down) << events.dump();
  // The deployed model itself reports the count (Vertex has no field; Tessera's view).
  auto ep = server_->Call("GET", "/v1/" + endpoint);
  EXPECT_EQ(ep.status, 200);
}

}  // namespace
}  // namespace tessera::testing
