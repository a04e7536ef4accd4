// The control-plane REST API over a real HttpServer (port 0) and HttpClient, with the real
// registry (SQLite in a temp dir, artifact store) and EndpointService (immediate waiter):
// the Vertex flows and the bad-input cases, each checked for the Google error shape and code.
#include "serving/rest/control_plane_api.h"

#include <atomic>
#include <memory>
#include <thread>

#include "common/http/http_client.h"
#include "common/http/http_server.h"
#include "control/deployment_waiter.h"
#include "control/endpoint_service.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/registry_harness.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::serving::rest {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::RegistryHarness;
using testing::ScopedTempDir;

constexpr char kLoc[] = "/v1/projects/test-project/locations/us-central1";
constexpr char kImage[] = "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest";

// Deploys complete at once unless Hold() was called; then they wait until Release() or cancel.
class HoldingWaiter final : public control::DeploymentWaiter {
 public:
  void Hold() { held_.store(true); }
  void Release() { held_.store(false); }
  absl::Status WaitUntilReady(const registry::Endpoint&, const registry::DeployedModel&,
                              const registry::CancellationToken& cancel) override {
    while (held_.load()) {
      if (cancel.WaitFor(absl::Milliseconds(5))) return absl::CancelledError("cancelled");
    }
    return absl::OkStatus();
  }
  void WaitUntilRouted(const registry::CancellationToken&, absl::Duration) override {}
  absl::Status WaitUntilStopped(const registry::Endpoint&, const registry::DeployedModel&,
                                const registry::CancellationToken&) override {
    return absl::OkStatus();
  }

 private:
  std::atomic<bool> held_{false};
};

struct Reply {
  int status = 0;
  json body;
  http::HttpHeaders headers;
};

class ControlPlaneApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    artifacts_root_ = tmp_.path() / "artifacts";
    fs::create_directories(artifacts_root_);
    harness_ = std::make_unique<RegistryHarness>(
        tmp_.path() / "data", RegistryHarness::Options{.allowed_roots = {artifacts_root_}});
    ASSERT_TRUE(harness_->Open().ok());
    control::EndpointService::Options eo;
    eo.store = &harness_->store();
    eo.operations = &harness_->operations();
    eo.waiter = &waiter_;
    eo.clock = &harness_->clock();
    eo.host = {.cpu_count = 8, .memory_bytes = int64_t{64} << 30};
    auto endpoints = control::EndpointService::Create(eo);
    ASSERT_TRUE(endpoints.ok()) << endpoints.status();
    endpoints_ = std::move(*endpoints);
    auto api = ControlPlaneApi::Create({.models = &harness_->models(),
                                        .operations = &harness_->operations(),
                                        .endpoints = endpoints_.get(),
                                        .max_wait = absl::Seconds(10),
                                        .max_blocking_waits = 1});
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = std::move(*api);
    auto router = std::make_shared<http::Router>();
    // Authentication off: these tests are about the API; the front door has its own tests.
    door_ = std::make_unique<serving::FrontDoor>(
        serving::FrontDoor::Options{.clock = &harness_->clock()});
    serving::SecuredRouter secured(*router, *door_);
    ASSERT_TRUE(api_->AddRoutes(secured).ok());
    http::HttpServer::Options so;
    so.handler = http::Router::AsHandler(router);
    auto server = http::HttpServer::Create(so);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto client = http::HttpClient::Create(
        {.base_url = "http://127.0.0.1:" + std::to_string(server_->port())});
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }

  void TearDown() override {
    if (api_) api_->BeginShutdown();
    if (server_) server_->Shutdown(absl::Seconds(1));
    server_.reset();
    api_.reset();
    door_.reset();
    endpoints_.reset();
    harness_.reset();
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& body = "") {
    http::HttpRequest request;
    request.method = method;
    request.target = target;
    request.body = body;
    if (!body.empty()) request.headers.Set("Content-Type", "application/json");
    auto response = client_->Send(request, absl::Seconds(30));
    EXPECT_TRUE(response.ok()) << response.status();
    Reply reply;
    if (!response.ok()) return reply;
    reply.status = response->status;
    reply.headers = response->headers;
    reply.body = json::parse(response->body, nullptr, false);
    return reply;
  }
  Reply Call(const std::string& method, const std::string& target, const json& body) {
    return Call(method, target, body.dump());
  }

  // Expects a Google error body with `http_status` and `code_name`; returns its message.
  static std::string ExpectError(const Reply& r, int http_status, const std::string& code_name) {
    EXPECT_EQ(r.status, http_status) << r.body.dump();
    EXPECT_TRUE(r.body.is_object() && r.body.contains("error")) << r.body.dump();
    if (!r.body.is_object() || !r.body.contains("error")) return "";
    const json& e = r.body["error"];
    EXPECT_EQ(e.value("code", 0), http_status);
    EXPECT_EQ(e.value("status", ""), code_name);
    return e.value("message", "");
  }

  json WaitDone(const json& op) {
    const std::string name = op.value("name", "");
    for (int i = 0; i < 10; ++i) {
      Reply r = Call("POST", "/v1/" + name + ":wait?timeout=5s");
      EXPECT_EQ(r.status, 200) << r.body.dump();
      if (r.body.value("done", false)) return r.body;
    }
    ADD_FAILURE() << "operation " << name << " not done";
    return json();
  }

  fs::path Checkpoint(const std::string& name, uint32_t seed) {
    fs::path dir = artifacts_root_ / name;
    testing::WriteTinyCheckpoint(dir, seed);
    return dir;
  }

  json UploadBody(const fs::path& dir, const std::string& display_name = "vit") {
    return {{"model",
             {{"displayName", display_name},
              {"artifactUri", dir.string()},
              {"containerSpec", {{"imageUri", kImage}}}}}};
  }

  // Uploads and waits; returns the model id.
  std::string Upload(const fs::path& dir, const std::string& display_name = "vit") {
    Reply r = Call("POST", std::string(kLoc) + "/models:upload", UploadBody(dir, display_name));
    EXPECT_EQ(r.status, 200) << r.body.dump();
    json done = WaitDone(r.body);
    EXPECT_FALSE(done.contains("error")) << done.dump();
    std::string model = done["response"].value("model", "");
    return model.substr(model.rfind('/') + 1);
  }

  ScopedTempDir tmp_;
  fs::path artifacts_root_;
  HoldingWaiter waiter_;
  std::unique_ptr<RegistryHarness> harness_;
  std::unique_ptr<control::EndpointService> endpoints_;
  std::unique_ptr<serving::FrontDoor> door_;
  std::unique_ptr<ControlPlaneApi> api_;
  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<http::HttpClient> client_;
};

TEST_F(ControlPlaneApiTest, UploadGetListVersionsAliasesPatchDelete) {
  Reply up = Call("POST", std::string(kLoc) + "/models:upload", UploadBody(Checkpoint("a", 1)));
  ASSERT_EQ(up.status, 200) << up.body.dump();
  EXPECT_EQ(up.body["metadata"]["@type"],
            "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelOperationMetadata");
  EXPECT_TRUE(up.headers.Contains("X-Tessera-Progress-Percent"));
  json done = WaitDone(up.body);
  ASSERT_TRUE(done.contains("response")) << done.dump();
  EXPECT_EQ(done["response"]["@type"],
            "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse");
  EXPECT_EQ(done["response"]["modelVersionId"], "1");
  const std::string model = done["response"]["model"];
  ASSERT_EQ(model.find("projects/test-project/locations/us-central1/models/"), 0u);

  Reply get = Call("GET", "/v1/" + model);
  ASSERT_EQ(get.status, 200) << get.body.dump();
  EXPECT_EQ(get.body["displayName"], "vit");
  EXPECT_EQ(get.body["versionAliases"], json({"default"}));
  EXPECT_EQ(get.body["containerSpec"]["imageUri"], kImage);
  EXPECT_EQ(get.body["tessera"]["runtime"], "vit");
  EXPECT_TRUE(get.body.contains("createTime"));

  // Version 2 through parentModel, then move `prod` and `default` to it.
  json v2 = UploadBody(Checkpoint("b", 2));
  v2["parentModel"] = model;
  v2["model"]["versionAliases"] = {"prod"};
  json v2_done = WaitDone(Call("POST", std::string(kLoc) + "/models:upload", v2).body);
  EXPECT_EQ(v2_done["response"]["modelVersionId"], "2");
  EXPECT_EQ(Call("GET", "/v1/" + model + "@prod").body["versionId"], "2");
  EXPECT_EQ(Call("GET", "/v1/" + model).body["versionId"], "1");

  Reply versions = Call("GET", "/v1/" + model + ":listVersions");
  ASSERT_EQ(versions.status, 200);
  ASSERT_EQ(versions.body["models"].size(), 2u);
  EXPECT_EQ(versions.body["models"][1]["versionAliases"], json({"prod"}));

  Reply merged = Call("POST", "/v1/" + model + "@2:mergeVersionAliases",
                      json{{"versionAliases", {"default", "-prod"}}});
  ASSERT_EQ(merged.status, 200) << merged.body.dump();
  EXPECT_EQ(merged.body["versionAliases"], json({"default"}));
  EXPECT_EQ(Call("GET", "/v1/" + model).body["versionId"], "2");

  Reply patched = Call("PATCH", "/v1/" + model + "?updateMask=displayName,labels",
                       json{{"displayName", "renamed"}, {"labels", {{"team", "vision"}}}});
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["displayName"], "renamed");
  Reply filtered = Call("GET", std::string(kLoc) + "/models?filter=labels.team%3D%22vision%22");
  ASSERT_EQ(filtered.status, 200) << filtered.body.dump();
  EXPECT_EQ(filtered.body["models"].size(), 1u);

  // Version 1 no longer holds default: it can go; then the model.
  Reply del_v1 = Call("DELETE", "/v1/" + model + "@1:deleteVersion");
  ASSERT_EQ(del_v1.status, 200) << del_v1.body.dump();
  EXPECT_EQ(del_v1.body["done"], true);
  ExpectError(Call("GET", "/v1/" + model + "@1"), 404, "NOT_FOUND");
  Reply del = Call("DELETE", "/v1/" + model);
  ASSERT_EQ(del.status, 200) << del.body.dump();
  EXPECT_EQ(del.body["response"]["@type"], "type.googleapis.com/google.protobuf.Empty");
  ExpectError(Call("GET", "/v1/" + model), 404, "NOT_FOUND");
}

TEST_F(ControlPlaneApiTest, Pagination) {
  for (int i = 0; i < 3; ++i) Upload(Checkpoint("m" + std::to_string(i), 10 + i), "m");
  Reply page1 = Call("GET", std::string(kLoc) + "/models?pageSize=2");
  ASSERT_EQ(page1.status, 200);
  EXPECT_EQ(page1.body["models"].size(), 2u);
  const std::string token = page1.body.value("nextPageToken", "");
  ASSERT_FALSE(token.empty());
  Reply page2 = Call("GET", std::string(kLoc) + "/models?pageSize=2&pageToken=" + token);
  ASSERT_EQ(page2.status, 200);
  EXPECT_EQ(page2.body["models"].size(), 1u);
  EXPECT_FALSE(page2.body.contains("nextPageToken"));
  // The client libraries' system parameter is ignored.
  EXPECT_EQ(Call("GET", std::string(kLoc) + "/models?%24alt=json%3Benum-encoding%3Dint").status,
            200);
  Reply ops = Call("GET", std::string(kLoc) + "/operations?filter=done%3Dtrue&pageSize=1");
  ASSERT_EQ(ops.status, 200) << ops.body.dump();
  EXPECT_EQ(ops.body["operations"].size(), 1u);
  EXPECT_TRUE(ops.body.contains("nextPageToken"));
}

TEST_F(ControlPlaneApiTest, EndpointDeployUndeployDelete) {
  const std::string model_id = Upload(Checkpoint("a", 1));
  const std::string model = std::string(kLoc).substr(4) + "/models/" + model_id;

  Reply created = Call("POST", std::string(kLoc) + "/endpoints?endpointId=ep1",
                       json{{"displayName", "my endpoint"}, {"labels", {{"env", "test"}}}});
  ASSERT_EQ(created.status, 200) << created.body.dump();
  EXPECT_EQ(created.body["done"], true);
  EXPECT_EQ(created.body["response"]["@type"],
            "type.googleapis.com/google.cloud.aiplatform.v1.Endpoint");
  EXPECT_EQ(created.body["response"]["displayName"], "my endpoint");
  const std::string endpoint = created.body["response"]["name"];
  EXPECT_EQ(endpoint, std::string(kLoc).substr(4) + "/endpoints/ep1");
  ExpectError(
      Call("POST", std::string(kLoc) + "/endpoints?endpointId=ep1", json{{"displayName", "again"}}),
      409, "ALREADY_EXISTS");

  json deploy = {{"deployedModel",
                  {{"model", model + "@1"},
                   {"displayName", "dm"},
                   {"dedicatedResources",
                    {{"machineSpec", {{"machineType", "n1-standard-2"}}},
                     {"minReplicaCount", 1},
                     {"maxReplicaCount", 2}}}}},
                 {"trafficSplit", {{"0", 100}}}};
  Reply dep = Call("POST", "/v1/" + endpoint + ":deployModel", deploy);
  ASSERT_EQ(dep.status, 200) << dep.body.dump();
  json dep_done = WaitDone(dep.body);
  ASSERT_TRUE(dep_done.contains("response")) << dep_done.dump();
  EXPECT_EQ(dep_done["response"]["@type"],
            "type.googleapis.com/google.cloud.aiplatform.v1.DeployModelResponse");
  const std::string dm_id = dep_done["response"]["deployedModel"]["id"];
  EXPECT_FALSE(dep_done["response"]["deployedModel"].contains("tessera"));  // strict

  Reply got = Call("GET", "/v1/" + endpoint);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["trafficSplit"][dm_id], 100);
  EXPECT_EQ(got.body["deployedModels"][0]["modelVersionId"], "1");
  EXPECT_EQ(got.body["deployedModels"][0]["tessera"]["state"], "DEPLOYED");
  EXPECT_EQ(Call("GET", "/v1/" + model).body["deployedModels"][0]["deployedModelId"], dm_id);

  Reply listed = Call("GET", std::string(kLoc) + "/endpoints");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body["endpoints"].size(), 1u);

  // Refusals while deployed.
  ExpectError(Call("DELETE", "/v1/" + endpoint), 400, "FAILED_PRECONDITION");
  ExpectError(Call("DELETE", "/v1/" + model), 400, "FAILED_PRECONDITION");

  Reply patched = Call("PATCH", "/v1/" + endpoint + "?updateMask=displayName",
                       json{{"displayName", "renamed"}});
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["displayName"], "renamed");

  Reply undep =
      Call("POST", "/v1/" + endpoint + ":undeployModel", json{{"deployedModelId", dm_id}});
  ASSERT_EQ(undep.status, 200) << undep.body.dump();
  json undep_done = WaitDone(undep.body);
  EXPECT_FALSE(undep_done.contains("error")) << undep_done.dump();
  EXPECT_FALSE(Call("GET", "/v1/" + endpoint).body.contains("deployedModels"));

  Reply del = Call("DELETE", "/v1/" + endpoint);
  ASSERT_EQ(del.status, 200) << del.body.dump();
  EXPECT_EQ(del.body["done"], true);
  ExpectError(Call("GET", "/v1/" + endpoint), 404, "NOT_FOUND");
}

TEST_F(ControlPlaneApiTest, BadTrafficSplits) {
  const std::string model_id = Upload(Checkpoint("a", 1));
  const std::string model = std::string(kLoc).substr(4) + "/models/" + model_id;
  Reply created = Call("POST", std::string(kLoc) + "/endpoints", json{{"displayName", "e"}});
  const std::string endpoint = created.body["response"]["name"];
  json deploy = {{"deployedModel", {{"model", model}}}, {"trafficSplit", {{"0", 90}}}};
  std::string msg = ExpectError(Call("POST", "/v1/" + endpoint + ":deployModel", deploy), 400,
                                "INVALID_ARGUMENT");
  EXPECT_NE(msg.find("100"), std::string::npos) << msg;
  deploy["trafficSplit"] = {{"0", 50}, {"999", 50}};
  ExpectError(Call("POST", "/v1/" + endpoint + ":deployModel", deploy), 400, "INVALID_ARGUMENT");
  ExpectError(Call("PATCH", "/v1/" + endpoint + "?updateMask=trafficSplit",
                   json{{"trafficSplit", {{"12345", 100}}}}),
              400, "INVALID_ARGUMENT");
  ExpectError(Call("PATCH", "/v1/" + endpoint + "?updateMask=etag", json{{"displayName", "x"}}),
              400, "INVALID_ARGUMENT");
  ExpectError(Call("PATCH", "/v1/" + endpoint, json{{"displayName", "x"}}), 400,
              "INVALID_ARGUMENT");  // no updateMask
  // Unknown model, unknown endpoint, unknown deployed model.
  json unknown = {{"deployedModel", {{"model", std::string(kLoc).substr(4) + "/models/424242"}}}};
  ExpectError(Call("POST", "/v1/" + endpoint + ":deployModel", unknown), 404, "NOT_FOUND");
  ExpectError(Call("POST", std::string(kLoc) + "/endpoints/nope:deployModel", deploy), 404,
              "NOT_FOUND");
  ExpectError(Call("POST", "/v1/" + endpoint + ":undeployModel", json{{"deployedModelId", "777"}}),
              404, "NOT_FOUND");
  // Accelerators: Tessera serves on CPUs.
  json gpu = {{"deployedModel",
               {{"model", model},
                {"dedicatedResources",
                 {{"machineSpec",
                   {{"machineType", "n1-standard-4"},
                    {"acceleratorType", "NVIDIA_TESLA_T4"},
                    {"acceleratorCount", 1}}},
                  {"minReplicaCount", 1}}}}}};
  ExpectError(Call("POST", "/v1/" + endpoint + ":deployModel", gpu), 400, "INVALID_ARGUMENT");
}

TEST_F(ControlPlaneApiTest, BadRequests) {
  const std::string upload = std::string(kLoc) + "/models:upload";
  std::string msg =
      ExpectError(Call("POST", upload, std::string("{\"model\": {")), 400, "INVALID_ARGUMENT");
  EXPECT_NE(msg.find("Invalid JSON payload"), std::string::npos) << msg;
  msg = ExpectError(Call("POST", upload, json{{"model", {{"displayName", "x"}}}, {"foo", 1}}), 400,
                    "INVALID_ARGUMENT");
  EXPECT_NE(msg.find("Unknown name \"foo\""), std::string::npos) << msg;
  ExpectError(Call("POST", upload, json{{"model", {{"displayName", 5}}}}), 400, "INVALID_ARGUMENT");
  ExpectError(Call("POST", upload, json::object()), 400, "INVALID_ARGUMENT");  // model missing
  json no_uri = {{"model", {{"displayName", "x"}, {"containerSpec", {{"imageUri", kImage}}}}}};
  ExpectError(Call("POST", upload, no_uri), 400, "INVALID_ARGUMENT");
  json bad_image = UploadBody(Checkpoint("a", 1));
  bad_image["model"]["containerSpec"]["imageUri"] = "gcr.io/me/custom:1";
  msg = ExpectError(Call("POST", upload, bad_image), 400, "INVALID_ARGUMENT");
  json outside = UploadBody(tmp_.path());  // not under the allowed root
  ExpectError(Call("POST", upload, outside), 403, "PERMISSION_DENIED");
  json relative = UploadBody("relative/path");
  ExpectError(Call("POST", upload, relative), 400, "INVALID_ARGUMENT");

  // A bad artifact fails the operation (not the request), with a clear error.
  fs::path corrupt = Checkpoint("corrupt", 3);
  testing::CorruptSafetensorsHeader(corrupt);
  Reply op = Call("POST", upload, UploadBody(corrupt));
  ASSERT_EQ(op.status, 200) << op.body.dump();
  json done = WaitDone(op.body);
  ASSERT_TRUE(done.contains("error")) << done.dump();
  EXPECT_EQ(done["error"]["code"], 3);
  EXPECT_FALSE(done["error"].value("message", "").empty());

  // Names.
  ExpectError(Call("GET", std::string(kLoc) + "/models/424242"), 404, "NOT_FOUND");
  ExpectError(Call("GET", "/v1/projects/bad!project/locations/l/models/1"), 400,
              "INVALID_ARGUMENT");
  ExpectError(Call("GET", std::string(kLoc) + "/models/a%2Fb"), 400, "INVALID_ARGUMENT");
  ExpectError(Call("GET", std::string(kLoc) + "/models/1%zz"), 400, "INVALID_ARGUMENT");
  ExpectError(Call("GET", std::string(kLoc) + "/operations/999999"), 404, "NOT_FOUND");
  ExpectError(Call("GET", std::string(kLoc) + "/endpoints/none"), 404, "NOT_FOUND");

  // List parameters.
  ExpectError(Call("GET", std::string(kLoc) + "/models?pageToken=garbage"), 400,
              "INVALID_ARGUMENT");
  ExpectError(Call("GET", std::string(kLoc) + "/models?pageSize=abc"), 400, "INVALID_ARGUMENT");
  ExpectError(Call("GET", std::string(kLoc) + "/models?pageSize=-1"), 400, "INVALID_ARGUMENT");
  ExpectError(Call("GET", std::string(kLoc) + "/models?orderBy=display_name"), 400,
              "INVALID_ARGUMENT");
  ExpectError(Call("GET", std::string(kLoc) + "/models?filter=name%3D%22x%22"), 400,
              "INVALID_ARGUMENT");
  EXPECT_EQ(Call("GET", std::string(kLoc) + "/models?orderBy=create_time").status, 200);

  // Routing: unknown path 404, wrong method 405 with Allow, both Google errors.
  ExpectError(Call("GET", "/v1/nothing/here"), 404, "NOT_FOUND");
  ExpectError(Call("GET", std::string(kLoc) + "/models:frobnicate"), 404, "NOT_FOUND");
  Reply wrong = Call("PUT", std::string(kLoc) + "/models");
  ExpectError(wrong, 405, "UNIMPLEMENTED");
  EXPECT_NE(wrong.headers.GetOr("Allow", "").find("GET"), std::string::npos);

  // mergeVersionAliases without aliases, :wait with a bad timeout.
  ExpectError(Call("POST", std::string(kLoc) + "/models/1@1:mergeVersionAliases", json::object()),
              400, "INVALID_ARGUMENT");
  ExpectError(Call("POST", "/v1/" + op.body.value("name", "") + ":wait?timeout=soon"), 400,
              "INVALID_ARGUMENT");
  // deleteVersion needs a version.
  ExpectError(Call("DELETE", std::string(kLoc) + "/models/1:deleteVersion"), 400,
              "INVALID_ARGUMENT");
}

TEST_F(ControlPlaneApiTest, OperationsCancelDeleteAndWaitTimeout) {
  Reply up = Call("POST", std::string(kLoc) + "/models:upload", UploadBody(Checkpoint("a", 1)));
  const std::string name = up.body["name"];
  json done = WaitDone(up.body);
  // Cancelling a done operation changes nothing.
  Reply cancel = Call("POST", "/v1/" + name + ":cancel");
  EXPECT_EQ(cancel.status, 200) << cancel.body.dump();
  EXPECT_EQ(cancel.body, json::object());
  Reply again = Call("GET", "/v1/" + name);
  EXPECT_EQ(again.body["done"], true);
  EXPECT_FALSE(again.body.contains("error"));
  EXPECT_EQ(again.headers.GetOr("X-Tessera-Progress-Percent", ""), "100");
  // The /ui bindings the client libraries poll.
  Reply ui = Call("GET", "/ui/" + name);
  EXPECT_EQ(ui.status, 200) << ui.body.dump();
  EXPECT_EQ(ui.body, again.body);
  EXPECT_EQ(Call("GET", "/ui/projects/test-project/locations/us-central1/operations")
                .body["operations"]
                .size(),
            1u);
  // :wait with timeout in the body form.
  EXPECT_EQ(Call("POST", "/v1/" + name + ":wait", json{{"timeout", "1s"}}).body["done"], true);
  Reply del = Call("DELETE", "/v1/" + name);
  EXPECT_EQ(del.status, 200);
  ExpectError(Call("GET", "/v1/" + name), 404, "NOT_FOUND");
}

TEST_F(ControlPlaneApiTest, RunningDeployWaitTimeoutLimitAndCancel) {
  const std::string model_id = Upload(Checkpoint("a", 1));
  Reply created = Call("POST", std::string(kLoc) + "/endpoints", json{{"displayName", "e"}});
  const std::string endpoint = created.body["response"]["name"];
  waiter_.Hold();
  json deploy = {
      {"deployedModel", {{"model", std::string(kLoc).substr(4) + "/models/" + model_id}}}};
  Reply dep = Call("POST", "/v1/" + endpoint + ":deployModel", deploy);
  ASSERT_EQ(dep.status, 200) << dep.body.dump();
  const std::string op = dep.body["name"];

  // :wait returns the running operation at its timeout.
  const absl::Time start = absl::Now();
  Reply waited = Call("POST", "/v1/" + op + ":wait?timeout=0.4s");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(350));
  ASSERT_EQ(waited.status, 200);
  EXPECT_EQ(waited.body["done"], false);
  EXPECT_FALSE(waited.body.contains("response"));
  EXPECT_EQ(waited.body["metadata"]["@type"],
            "type.googleapis.com/google.cloud.aiplatform.v1.DeployModelOperationMetadata");
  // The deployment is recorded, DEPLOYING, without traffic.
  Reply mid = Call("GET", "/v1/" + endpoint);
  ASSERT_EQ(mid.body["deployedModels"].size(), 1u);
  EXPECT_EQ(mid.body["deployedModels"][0]["status"]["message"], "DEPLOYING");
  EXPECT_FALSE(mid.body.contains("trafficSplit"));

  // Only one :wait blocks at a time (max_blocking_waits = 1): a second returns after one slice.
  absl::Duration first_took, second_took;
  std::thread first([&] {
    const absl::Time t = absl::Now();
    Call("POST", "/v1/" + op + ":wait?timeout=2s");
    first_took = absl::Now() - t;
  });
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time t = absl::Now();
  Call("POST", "/v1/" + op + ":wait?timeout=2s");
  second_took = absl::Now() - t;
  first.join();
  EXPECT_GE(first_took, absl::Milliseconds(1900));
  EXPECT_LT(second_took, absl::Milliseconds(1000));

  // Cancel: the operation ends CANCELLED (code 1) and the deployment is rolled back.
  Reply cancel = Call("POST", "/v1/" + op + ":cancel");
  EXPECT_EQ(cancel.status, 200) << cancel.body.dump();
  json done = WaitDone(dep.body);
  ASSERT_TRUE(done.contains("error")) << done.dump();
  EXPECT_EQ(done["error"]["code"], 1);
  EXPECT_FALSE(Call("GET", "/v1/" + endpoint).body.contains("deployedModels"));
  waiter_.Release();
}

TEST_F(ControlPlaneApiTest, OpenApiIsServed) {
  Reply r = Call("GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.body.is_object());
  EXPECT_EQ(r.body.value("openapi", ""), "3.0.3");
  EXPECT_TRUE(r.body["paths"].contains(
      std::string("/v1/projects/{project}/locations/{location}/models:upload")));
}

}  // namespace
}  // namespace tessera::serving::rest
