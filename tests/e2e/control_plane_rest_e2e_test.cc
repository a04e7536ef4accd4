// End to end over the real binary: `tessera serve --listen 127.0.0.1:0` on a temp data dir, the
// seed's steps with plain HTTP (what curl does): upload the vendored fashion-vit checkpoint, poll
// the operation, create an endpoint, deploy, list, undeploy, delete; restart keeps everything;
// SIGTERM exits cleanly; bad requests, oversized bodies, a second server on the same data dir,
// artifact roots.
#include <signal.h>

#include <fstream>

#include "e2e/control_plane_server.h"
#include "gtest/gtest.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/test_paths.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kLoc[] = "/v1/projects/my-project/locations/us-central1";

json UploadBody(const fs::path& dir) {
  return {{"model",
           {{"displayName", "fashion"},
            {"artifactUri", dir.string()},
            {"containerSpec", {{"imageUri", "tessera/vit"}}}}}};
}

fs::path FashionVit() { return VendoredDataDir() / "models" / "fashion-vit"; }

TEST(ControlPlaneRestE2E, SeedStepsSurviveRestart) {
  ScopedTempDir tmp;
  const fs::path data = tmp.path() / "data";
  auto server = ServeProcess::Start(data);
  ASSERT_TRUE(server.ok()) << server.status();
  ServeProcess& s = **server;
  EXPECT_NE(s.start_line().find("tessera serving on http://127.0.0.1:"), std::string::npos);
  EXPECT_NE(s.start_line().find(data.string()), std::string::npos);

  // 1. Upload and poll the LRO.
  auto up = s.Call("POST", std::string(kLoc) + "/models:upload", UploadBody(FashionVit()));
  ASSERT_EQ(up.status, 200) << up.raw;
  auto op = s.PollOperation(up.body["name"]);
  ASSERT_TRUE(op.body.value("done", false)) << op.raw;
  ASSERT_TRUE(op.body.contains("response")) << op.raw << "\n" << s.Log();
  const std::string model = op.body["response"]["model"];
  auto got = s.Call("GET", "/v1/" + model);
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.body["tessera"]["runtime"], "vit");
  EXPECT_EQ(got.body["tessera"]["artifactFiles"].size(), 5u);  // every file of the folder

  // 2. Create an endpoint.
  auto ep = s.Call("POST", std::string(kLoc) + "/endpoints", json{{"displayName", "fashion-ep"}});
  ASSERT_EQ(ep.status, 200) << ep.raw;
  ASSERT_TRUE(ep.body.value("done", false));
  const std::string endpoint = ep.body["response"]["name"];

  // 3. Deploy with {"0": 100} and a chosen id (Vertex lets the caller pick it).
  json deploy = {{"deployedModel",
                  {{"id", "4242"},
                   {"model", model},
                   {"dedicatedResources",
                    {{"machineSpec", {{"machineType", "n1-standard-2"}}},
                     {"minReplicaCount", 1},
                     {"maxReplicaCount", 1}}}}},
                 {"trafficSplit", {{"0", 100}}}};
  // What a replica would refuse at start is refused now, naming the field; so are an autoscaling
  // metric the autoscaler does not apply and a malformed id.
  const auto refused = [&](json edit, const std::string& field) {
    json bad = deploy;
    bad.merge_patch(edit);
    auto r = s.Call("POST", "/v1/" + endpoint + ":deployModel", bad);
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_NE(r.body["error"].value("message", "").find(field), std::string::npos) << r.raw;
  };
  refused({{"deployedModel",
            {{"tessera", {{"batching", {{"maxBatchSize", 8}, {"maxQueueSize", 4}}}}}}}},
          "deployedModel.tessera.batching.maxQueueSize (4) must be at least");
  refused({{"deployedModel",
            {{"dedicatedResources",
              {{"autoscalingMetricSpecs",
                {{{"metricName", "tessera.dev/replica/in_flight"}, {"target", 4}}}}}}}}},
          "unsupported metricName \"tessera.dev/replica/in_flight\"");
  refused({{"deployedModel", {{"id", "42x"}}}}, "deployedModel.id");
  EXPECT_EQ(s.Call("GET", "/v1/" + endpoint).body.value("deployedModels", json::array()).size(),
            0u);
  auto dep = s.Call("POST", "/v1/" + endpoint + ":deployModel", deploy);
  ASSERT_EQ(dep.status, 200) << dep.raw;
  auto dep_done = s.PollOperation(dep.body["name"]);
  ASSERT_TRUE(dep_done.body.contains("response")) << dep_done.raw << "\n" << s.Log();
  const std::string dm_id = dep_done.body["response"]["deployedModel"]["id"];
  EXPECT_EQ(dm_id, "4242");
  // Taken: 409, nothing deployed twice.
  auto twice = s.Call("POST", "/v1/" + endpoint + ":deployModel", deploy);
  EXPECT_EQ(twice.status, 409) << twice.raw;

  auto listed = s.Call("GET", std::string(kLoc) + "/endpoints");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["endpoints"].size(), 1u);
  EXPECT_EQ(listed.body["endpoints"][0]["trafficSplit"][dm_id], 100);
  auto ops = s.Call("GET", std::string(kLoc) + "/operations");
  EXPECT_EQ(ops.body["operations"].size(), 3u) << ops.raw;

  // Restart: everything is still there and nothing is running.
  ASSERT_EQ(*s.Stop(SIGTERM), 0) << s.Log();
  auto again = ServeProcess::Start(data);
  ASSERT_TRUE(again.ok()) << again.status();
  ServeProcess& s2 = **again;
  auto ep2 = s2.Call("GET", "/v1/" + endpoint);
  ASSERT_EQ(ep2.status, 200) << ep2.raw;
  EXPECT_EQ(ep2.body["trafficSplit"][dm_id], 100);
  EXPECT_EQ(ep2.body["deployedModels"][0]["tessera"]["state"], "DEPLOYED");
  EXPECT_EQ(s2.Call("GET", "/v1/" + model).status, 200);

  // Undeploy, delete the endpoint and the model.
  auto undep =
      s2.Call("POST", "/v1/" + endpoint + ":undeployModel", json{{"deployedModelId", dm_id}});
  ASSERT_EQ(undep.status, 200) << undep.raw;
  auto undep_done = s2.PollOperation(undep.body["name"]);
  EXPECT_FALSE(undep_done.body.contains("error")) << undep_done.raw;
  EXPECT_EQ(s2.Call("DELETE", "/v1/" + endpoint).status, 200);
  EXPECT_EQ(s2.Call("DELETE", "/v1/" + model).status, 200);
  EXPECT_EQ(s2.Call("GET", "/v1/" + model).status, 404);
  EXPECT_EQ(*s2.Stop(SIGINT), 0) << s2.Log();
}

TEST(ControlPlaneRestE2E, BadRequestsGetGoogleErrors) {
  ScopedTempDir tmp;
  auto server = ServeProcess::Start(tmp.path() / "data", {"--max-request-mib", "1"});
  ASSERT_TRUE(server.ok()) << server.status();
  ServeProcess& s = **server;
  const auto expect_error = [](const ServeProcess::Reply& r, int http, const char* code) {
    EXPECT_EQ(r.status, http) << r.raw;
    ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], http);
    EXPECT_EQ(r.body["error"]["status"], code);
    EXPECT_FALSE(r.body["error"].value("message", "").empty());
  };
  const std::string upload = std::string(kLoc) + "/models:upload";
  expect_error(s.Call("POST", upload, std::string("{not json")), 400, "INVALID_ARGUMENT");
  expect_error(s.Call("POST", upload, json{{"model", {{"displayName", "x"}}}}), 400,
               "INVALID_ARGUMENT");  // missing artifactUri / image
  json missing = UploadBody(tmp.path() / "does-not-exist");
  expect_error(s.Call("POST", upload, missing), 400, "INVALID_ARGUMENT");
  expect_error(s.Call("GET", std::string(kLoc) + "/models/12345"), 404, "NOT_FOUND");
  expect_error(s.Call("GET", std::string(kLoc) + "/models?pageToken=xyz"), 400, "INVALID_ARGUMENT");
  expect_error(s.Call("GET", "/v2/whatever"), 404, "NOT_FOUND");
  expect_error(s.Call("DELETE", std::string(kLoc) + "/models"), 405, "UNIMPLEMENTED");
  // A body over --max-request-mib.
  expect_error(s.Call("POST", upload, std::string(2 << 20, ' ')), 413, "INVALID_ARGUMENT");

  // A bad artifact: the upload operation fails with the validator's message.
  const fs::path bad = tmp.path() / "bad";
  WriteTinyCheckpoint(bad, 1);  // not a ViT config: the engine's validator refuses it
  auto up = s.Call("POST", upload, UploadBody(bad));
  ASSERT_EQ(up.status, 200) << up.raw;
  auto done = s.PollOperation(up.body["name"]);
  ASSERT_TRUE(done.body.contains("error")) << done.raw;
  EXPECT_EQ(done.body["error"]["code"], 3);
  EXPECT_NE(done.body["error"]["message"].get<std::string>().find("not a servable"),
            std::string::npos)
      << done.raw;
  EXPECT_EQ(s.Call("GET", std::string(kLoc) + "/models").body.value("models", json::array()).size(),
            0u);

  // The OpenAPI document.
  auto openapi = s.Call("GET", "/openapi.json");
  EXPECT_EQ(openapi.status, 200);
  EXPECT_TRUE(openapi.body.contains("paths"));
}

TEST(ControlPlaneRestE2E, AllowedArtifactRootsAndDataDirLock) {
  ScopedTempDir tmp;
  const fs::path root = tmp.path() / "allowed";
  fs::create_directories(root);
  auto server =
      ServeProcess::Start(tmp.path() / "data", {"--allowed-artifact-root", root.string()});
  ASSERT_TRUE(server.ok()) << server.status();
  ServeProcess& s = **server;
  auto refused = s.Call("POST", std::string(kLoc) + "/models:upload", UploadBody(FashionVit()));
  EXPECT_EQ(refused.status, 403) << refused.raw;
  EXPECT_NE(refused.raw.find(root.string()), std::string::npos) << refused.raw;
  fs::copy(FashionVit(), root / "fashion", fs::copy_options::recursive);
  auto accepted =
      s.Call("POST", std::string(kLoc) + "/models:upload", UploadBody(root / "fashion"));
  ASSERT_EQ(accepted.status, 200) << accepted.raw;
  EXPECT_TRUE(s.PollOperation(accepted.body["name"]).body.contains("response"));

  // A second server on the same data dir is refused with a clear message.
  auto second = ServeProcess::Start(tmp.path() / "data");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another `tessera serve`"), std::string::npos)
      << second.status();
}

}  // namespace
}  // namespace tessera::testing
