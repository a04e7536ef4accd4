#include "e2e/data_plane_fixture.h"

#include <fstream>
#include <iterator>

#include "common/base64.h"
#include "testing/test_paths.h"

namespace tessera::testing {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path FashionVitDir() { return VendoredDataDir() / "models" / "fashion-vit"; }

fs::path FashionImage(const std::string& name) {
  return VendoredDataDir() / "images" / "fashion" / name;
}

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

json PredictBody(const std::vector<fs::path>& images) {
  json instances = json::array();
  for (const fs::path& image : images) {
    instances.push_back({{"string_input", {{"b64", Base64Encode(ReadBytes(image))}}}});
  }
  return {{"instances", instances}};
}

void DataPlaneTest::StartServer(const std::vector<std::string>& extra_args) {
  auto server = ServeProcess::Start(tmp_.path() / "data", extra_args);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  http::HttpClient::Options options;
  options.base_url = server_->url();
  auto client = http::HttpClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  client_ = std::move(*client);
}

void DataPlaneTest::TearDown() {
  if (!load_threads_.empty()) StopLoad();
  if (server_ != nullptr) {
    auto stopped = server_->Stop(SIGTERM, absl::Seconds(30));
    EXPECT_TRUE(stopped.ok() && *stopped == 0) << server_->Log();
    if (HasFailure()) {
      std::string log = server_->Log();
      if (log.size() > 20000) log = log.substr(log.size() - 20000);
      std::fprintf(stderr, "---- server log (tail) ----\n%s\n", log.c_str());
    }
  }
}

std::string DataPlaneTest::Upload(const std::string& display_name,
                                  const std::string& parent_model) {
  json model = {{"displayName", display_name},
                {"artifactUri", FashionVitDir().string()},
                {"containerSpec", {{"imageUri", "tessera/vit"}}}};
  json body = {{"model", model}};
  if (!parent_model.empty()) body["parentModel"] = parent_model;
  auto up = server_->Call("POST", std::string(kDataPlaneLoc) + "/models:upload", body);
  EXPECT_EQ(up.status, 200) << up.raw;
  auto op = server_->PollOperation(up.body.value("name", ""));
  EXPECT_TRUE(op.body.contains("response")) << op.raw;
  if (!op.body.contains("response")) return "";
  std::string name = op.body["response"]["model"];
  if (op.body["response"].contains("modelVersionId")) {
    name += "@" + op.body["response"]["modelVersionId"].get<std::string>();
  }
  return name;
}

std::string DataPlaneTest::CreateEndpoint(const std::string& display_name) {
  auto ep = server_->Call("POST", std::string(kDataPlaneLoc) + "/endpoints",
                          json{{"displayName", display_name}});
  EXPECT_EQ(ep.status, 200) << ep.raw;
  return ep.body["response"].value("name", "");
}

ServeProcess::Reply DataPlaneTest::DeployReply(const std::string& endpoint,
                                               const json& deployed_model, const json& split) {
  json body = {{"deployedModel", deployed_model}};
  if (!split.is_null()) body["trafficSplit"] = split;
  auto dep = server_->Call("POST", "/v1/" + endpoint + ":deployModel", body);
  if (dep.status != 200) return dep;
  return server_->PollOperation(dep.body["name"], absl::Seconds(120));
}

std::string DataPlaneTest::Deploy(const std::string& endpoint, const std::string& model, int min,
                                  int max, const json& split) {
  json dm = {{"model", model},
             {"dedicatedResources",
              {{"machineSpec", {{"machineType", "tessera-cpu-1"}}},
               {"minReplicaCount", min},
               {"maxReplicaCount", max}}}};
  auto done = DeployReply(endpoint, dm, split);
  EXPECT_TRUE(done.body.contains("response")) << done.raw << "\n" << server_->Log();
  if (!done.body.contains("response")) return "";
  return done.body["response"]["deployedModel"]["id"];
}

ServeProcess::Reply DataPlaneTest::Undeploy(const std::string& endpoint, const std::string& id,
                                            const json& split) {
  json body = {{"deployedModelId", id}};
  if (!split.is_null()) body["trafficSplit"] = split;
  auto op = server_->Call("POST", "/v1/" + endpoint + ":undeployModel", body);
  if (op.status != 200) return op;
  return server_->PollOperation(op.body["name"], absl::Seconds(120));
}

json DataPlaneTest::Replicas(const std::string& endpoint, const std::string& id) {
  auto reply = server_->Call("GET", "/v1/" + endpoint + "/deployedModels/" + id + "/replicas");
  EXPECT_EQ(reply.status, 200) << reply.raw;
  return reply.body;
}

PredictReply DataPlaneTest::Post(const std::string& target, const std::string& body,
                                 const std::vector<std::pair<std::string, std::string>>& headers) {
  http::HttpRequest request;
  request.method = "POST";
  request.target = target;
  request.body = body;
  request.headers.Set("Content-Type", "application/json");
  if (!server_->admin_key().empty()) {
    request.headers.Set("Authorization", "Bearer " + server_->admin_key());
  }
  for (const auto& [name, value] : headers) request.headers.Set(name, value);
  PredictReply reply;
  auto response = client_->Send(request, absl::Seconds(60));
  if (!response.ok()) {
    reply.error = response.status().ToString();
    return reply;
  }
  reply.status = response->status;
  reply.raw = response->body;
  reply.headers = response->headers;
  reply.body = json::parse(reply.raw, nullptr, false);
  return reply;
}

void DataPlaneTest::StartLoad(const std::string& endpoint, const json& body, int threads) {
  load_stop_ = false;
  load_done_ = 0;
  load_result_ = LoadResult{};
  const std::string text = body.dump();
  for (int t = 0; t < threads; ++t) {
    load_threads_.emplace_back([this, endpoint, text] {
      while (!load_stop_.load()) {
        PredictReply reply = Post("/v1/" + endpoint + ":predict", text);
        std::lock_guard<std::mutex> lock(load_mu_);
        if (reply.status == 200) {
          ++load_result_.ok;
          ++load_result_.by_deployed_model[reply.body.value("deployedModelId", "?")];
        } else {
          load_result_.failures.push_back(std::to_string(reply.status) + ": " +
                                          (reply.status == 0 ? reply.error : reply.raw));
        }
        load_done_.fetch_add(1);
      }
    });
  }
}

DataPlaneTest::LoadResult DataPlaneTest::StopLoad() {
  load_stop_ = true;
  for (std::thread& t : load_threads_) t.join();
  load_threads_.clear();
  std::lock_guard<std::mutex> lock(load_mu_);
  return load_result_;
}

}  // namespace tessera::testing
