// The auth matrix, generated from the server's own route table (`tessera serve --list-routes`,
// the routes exactly as serve registers them, the KServe gRPC methods included): every route x
// {no key, malformed key, unknown key, revoked key, expired key, each role, a key of another
// project, a predictor key of another endpoint} against the real binary, each answer checked
// against the route's declared access rule and the role policy (auth/access_policy.h). A route
// registered without an access rule fails here (and serve refuses to start with one).
//
// Also checked on the way: 401 carries WWW-Authenticate and the route's error shape, a refusal
// for another tenant reads the same whether the resource exists or not, every 401 and 403 is in
// the audit log under its request id, and no log holds any key's secret.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "auth/access_policy.h"
#include "e2e/control_plane_server.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serving/grpc/kserve_v2.grpc.pb.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/test_paths.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kIn[] = "pa";      // the keys' project, with the fixtures
constexpr char kOther[] = "pb";   // another tenant's project, with an endpoint "e1"
constexpr char kNobody[] = "pz";  // a project where nothing exists
constexpr char kLocation[] = "us-central1";

struct Key {
  std::string name;          // for messages: "viewer", "revoked", ...
  std::string secret;        // "" sends none
  std::optional<Role> role;  // set for a valid key
};

auth::Action ActionFrom(const std::string& name) {
  for (auth::Action a : {auth::Action::kPublic, auth::Action::kAuthenticated, auth::Action::kRead,
                         auth::Action::kPredict, auth::Action::kWrite, auth::Action::kAdmin}) {
    if (auth::ActionName(a) == name) return a;
  }
  ADD_FAILURE() << "unknown action " << name;
  return auth::Action::kAdmin;
}

// `text` with the first `from` replaced by `to`: a refusal's message may name the project,
// endpoint or model it refused (and then only that may differ).
std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// `word` in quotes as it appears inside a JSON string: \"word\".
std::string Quoted(const std::string& word) { return "\\\"" + word + "\\\""; }

// The route's pattern with its parameters filled in.
std::string Fill(std::string pattern, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values) {
    const std::string token = "{" + name + "}";
    for (size_t at = pattern.find(token); at != std::string::npos; at = pattern.find(token)) {
      pattern.replace(at, token.size(), value);
    }
  }
  EXPECT_EQ(pattern.find('{'), std::string::npos) << "unfilled parameter in " << pattern;
  return pattern;
}

class AuthMatrixE2E : public ::testing::Test {
 protected:
  struct Answer {
    int status = 0;
    std::string body;
    std::string www_authenticate;
  };

  Answer Send(const std::string& method, const std::string& target, const Key& key,
              const std::string& request_id, const std::string& body = "{}") {
    http::HttpRequest request;
    request.method = method;
    request.target = target;
    if (method == "POST" || method == "PATCH") {
      request.body = body;
      request.headers.Set("Content-Type", "application/json");
    }
    if (!key.secret.empty()) request.headers.Set("Authorization", "Bearer " + key.secret);
    request.headers.Set("X-Request-Id", request_id);
    auto response = client_->Send(request, absl::Seconds(60));
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return {};
    return {response->status, response->body, response->headers.GetOr("WWW-Authenticate", "")};
  }

  std::string NewKey(const json& body) {
    auto r = server_->Call("POST", "/v1/keys", body);
    EXPECT_EQ(r.status, 200) << r.raw;
    secrets_.push_back(r.body.value("keyString", ""));
    return r.body.value("keyString", "");
  }

  std::string Loc(const std::string& project) {
    return fmt::format("/v1/projects/{}/locations/{}", project, kLocation);
  }

  json Wait(const ServeProcess::Reply& op) {
    EXPECT_EQ(op.status, 200) << op.raw;
    return server_->PollOperation(op.body.value("name", ""), absl::Seconds(120)).body;
  }

  ScopedTempDir tmp_;
  std::unique_ptr<ServeProcess> server_;
  std::unique_ptr<http::HttpClient> client_;
  std::vector<std::string> secrets_;
};

TEST_F(AuthMatrixE2E, EveryRouteAgainstEveryCredential) {
  // The route table, as serve registers it.
  CliResult listed =
      RunCli({"serve", "--data-dir", (tmp_.path() / "routes").string(), "--list-routes"});
  ASSERT_EQ(listed.exit_status, 0) << listed.err;
  EXPECT_FALSE(fs::exists(tmp_.path() / "routes")) << "--list-routes touched the data dir";
  const json routes = json::parse(listed.out, nullptr, false);
  ASSERT_TRUE(routes.is_array() && routes.size() > 40) << listed.out.substr(0, 2000);
  for (const json& r : routes) {
    ASSERT_FALSE(r["action"].is_null())
        << r.value("method", "") << " " << r.value("pattern", "")
        << " has no access rule: register it through SecuredRouter with a RouteAccess";
  }

  const int grpc_port = FreeLoopbackPort();
  auto server = ServeProcess::Start(tmp_.path() / "data",
                                    {"--grpc-listen", "127.0.0.1:" + std::to_string(grpc_port)});
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  secrets_.push_back(server_->admin_key());
  client_ = *http::HttpClient::Create({.base_url = server_->url()});

  // Fixtures: "fashion" deployed on pa/e1; pa/e2 without a deployment; pb/e1.
  json up = Wait(
      server_->Call("POST", Loc(kIn) + "/models:upload",
                    json{{"modelId", "fashion"},
                         {"model",
                          {{"displayName", "fashion"},
                           {"artifactUri", (VendoredDataDir() / "models" / "fashion-vit").string()},
                           {"containerSpec", {{"imageUri", "tessera/vit"}}}}}}));
  ASSERT_TRUE(up.contains("response")) << up.dump();
  for (const auto& [project, id] :
       {std::pair{kIn, "e1"}, std::pair{kIn, "e2"}, std::pair{kOther, "e1"}}) {
    auto r = server_->Call("POST", Loc(project) + "/endpoints?endpointId=" + id,
                           json{{"displayName", id}});
    ASSERT_EQ(r.status, 200) << r.raw;
  }
  json deployed =
      Wait(server_->Call("POST", Loc(kIn) + "/endpoints/e1:deployModel",
                         json{{"deployedModel",
                               {{"model", "projects/pa/locations/us-central1/models/fashion"},
                                {"dedicatedResources",
                                 {{"machineSpec", {{"machineType", "tessera-cpu-1"}}},
                                  {"minReplicaCount", 1},
                                  {"maxReplicaCount", 1}}}}}}));
  ASSERT_TRUE(deployed.contains("response")) << deployed.dump();
  const std::string deployed_id = deployed["response"]["deployedModel"]["id"];
  const std::string operation_id = [&] {
    std::string name = deployed.value("name", "");
    return name.substr(name.rfind('/') + 1);
  }();

  // The credentials.
  std::vector<Key> keys;
  keys.push_back({"no key", "", std::nullopt});
  keys.push_back({"malformed key", "not-a-tessera-key", std::nullopt});
  keys.push_back({"unknown key", "tsk_0123456789abcdef_" + std::string(43, 'Q'), std::nullopt});
  const std::string revoked = NewKey({{"role", "admin"}, {"projects", {kIn}}});
  ASSERT_EQ(server_->Call("POST", "/v1/keys/" + revoked.substr(0, 20) + ":revoke").status, 200);
  keys.push_back({"revoked key", revoked, std::nullopt});
  const std::string expired = NewKey({{"role", "admin"}, {"projects", {kIn}}, {"ttl", "1s"}});
  keys.push_back({"expired key", expired, std::nullopt});
  for (Role role : {Role::kViewer, Role::kPredictor, Role::kDeployer, Role::kAdmin}) {
    keys.push_back({std::string(RoleName(role)),
                    NewKey({{"role", RoleName(role)}, {"projects", {kIn}}}), role});
  }
  const Key narrow{"predictor of pa/e1",
                   NewKey({{"role", "predictor"},
                           {"projects", {kIn}},
                           {"endpoints", {"projects/pa/locations/us-central1/endpoints/e1"}}}),
                   Role::kPredictor};
  const Key other_admin{"admin of pb", NewKey({{"role", "admin"}, {"projects", {kOther}}}),
                        Role::kAdmin};
  // A predictor of pa limited to e2, where nothing is deployed: "fashion" is out of its reach.
  const Key empty_endpoint{
      "predictor of pa/e2",
      NewKey({{"role", "predictor"},
              {"projects", {kIn}},
              {"endpoints", {"projects/pa/locations/us-central1/endpoints/e2"}}}),
      Role::kPredictor};
  // A key in pa's reach for the key routes' {key}.
  const std::string target_key = NewKey({{"role", "viewer"}, {"projects", {kIn}}}).substr(0, 20);
  absl::SleepFor(absl::Milliseconds(1500));  // the expired key's second passes

  const std::map<std::string, std::string> in_scope = {
      {"project", kIn},     {"location", kLocation},     {"endpoint", "e1"},
      {"model", "fashion"}, {"operation", operation_id}, {"deployed_model", deployed_id},
      {"key", target_key},  {"name", "fashion"},         {"version", "1"},
      {"label", "default"}};

  int next_id = 0;
  std::vector<std::string> refused_ids;  // 401 and 403 request ids: each must be audited
  std::map<std::string, int> checked;    // per action, for the summary
  for (const json& r : routes) {
    if (r.value("protocol", "") != "http") continue;
    const std::string method = r["method"];
    const std::string pattern = r["pattern"];
    const std::string scope = r["scope"];
    const auth::Action action = ActionFrom(r["action"]);
    const bool plain = r.value("errors", "") == "plain";
    const std::string target = Fill(pattern, in_scope);
    const std::string where = method + " " + target;
    // A call for every project (quotas) is refused to the keys of one project whatever their
    // role; the admin key for every project may make it.
    const bool every_project = scope == "every-project";
    ++checked[r["action"]];
    if (every_project) {
      const Answer a =
          Send(method, target, {"admin of *", server_->admin_key(), Role::kAdmin}, "x");
      EXPECT_TRUE(a.status != 401 && a.status != 403) << where << " " << a.body;
    }

    for (const Key& key : keys) {
      const std::string id = fmt::format("matrix-{}", next_id++);
      const Answer a = Send(method, target, key, id);
      SCOPED_TRACE(where + " as " + key.name + ": " + std::to_string(a.status) + " " +
                   a.body.substr(0, 300));
      EXPECT_LT(a.status, 500);
      if (action == auth::Action::kPublic) {
        EXPECT_EQ(a.status, 200);
      } else if (!key.role) {
        EXPECT_EQ(a.status, 401);
        EXPECT_EQ(a.www_authenticate, "Bearer realm=\"tessera\"");
        const json body = json::parse(a.body, nullptr, false);
        if (plain) {
          EXPECT_TRUE(body.is_object() && body["error"].is_string());
        } else {
          EXPECT_EQ(body["error"]["status"], "UNAUTHENTICATED");
        }
        refused_ids.push_back(id);
      } else if (!auth::RoleAllows(*key.role, action) || every_project) {
        EXPECT_EQ(a.status, 403);
        refused_ids.push_back(id);
      } else {
        EXPECT_NE(a.status, 401);
        EXPECT_NE(a.status, 403);
      }
    }

    // Another tenant's project: 403 for an existing resource and a missing one alike.
    if (scope == "project" || scope == "endpoint" || scope == "every-project") {
      auto other = in_scope;
      other["project"] = kOther;
      auto nobody = in_scope;
      nobody["project"] = kNobody;
      const Key& admin_pa = keys.back();  // admin of pa: its role allows every action
      const Answer existing = Send(method, Fill(pattern, other), admin_pa, "x");
      const Answer missing = Send(method, Fill(pattern, nobody), admin_pa, "x");
      EXPECT_EQ(existing.status, 403) << where << " " << existing.body;
      EXPECT_EQ(missing.status, 403) << where << " " << missing.body;
      EXPECT_EQ(existing.body, Replaced(missing.body, Quoted(kNobody), Quoted(kOther))) << where;
    }
    // A predictor limited to pa/e1 on another endpoint of pa, existing (e2) or not (e9).
    if (scope == "endpoint" && action == auth::Action::kPredict) {
      auto e2 = in_scope;
      e2["endpoint"] = "e2";
      auto e9 = in_scope;
      e9["endpoint"] = "e9";
      EXPECT_NE(Send(method, target, narrow, "x").status, 403) << where;
      const Answer existing = Send(method, Fill(pattern, e2), narrow, "x");
      const Answer missing = Send(method, Fill(pattern, e9), narrow, "x");
      EXPECT_EQ(existing.status, 403) << where;
      EXPECT_EQ(missing.status, 403) << where;
      EXPECT_EQ(existing.body, Replaced(missing.body, "endpoints/e9", "endpoints/e2")) << where;
    }
    // A key of another tenant on the key routes: the same 403 as for a key that does not exist.
    if (pattern.find("{key}") != std::string::npos) {
      auto missing_key = in_scope;
      missing_key["key"] = "tsk_00000000000000ff";
      const Answer theirs = Send(method, target, other_admin, "x");
      const Answer missing = Send(method, Fill(pattern, missing_key), other_admin, "x");
      EXPECT_EQ(theirs.status, 403) << where << " " << theirs.body;
      EXPECT_EQ(missing.status, 403) << where << " " << missing.body;
      EXPECT_EQ(theirs.body, Replaced(missing.body, "tsk_00000000000000ff", target_key)) << where;
    }
    // A model name of another tenant resolves to nothing, as a name nobody uses does (a TF
    // Serving predict body that is well-formed, so the name is what decides); so does one
    // deployed only on endpoints a predictor key does not list.
    if (scope == "model-name") {
      const std::string body = pattern.starts_with("/v1/models/") ? R"({"instances": []})" : "{}";
      const Answer theirs = Send(method, target, other_admin, "x", body);
      auto unknown = in_scope;
      unknown["name"] = "nothing";
      const Answer missing = Send(method, Fill(pattern, unknown), other_admin, "x", body);
      EXPECT_EQ(theirs.status, 404) << where << " " << theirs.body;
      EXPECT_EQ(missing.status, 404) << where << " " << missing.body;
      EXPECT_EQ(theirs.body, Replaced(missing.body, Quoted("nothing"), Quoted("fashion"))) << where;
      const Answer elsewhere = Send(method, target, empty_endpoint, "x", body);
      EXPECT_EQ(elsewhere.status, 404) << where << " " << elsewhere.body;
    }
  }
  EXPECT_GT(checked["read"], 10);
  EXPECT_GT(checked["write"], 10);
  EXPECT_GT(checked["predict"], 5);
  EXPECT_GT(checked["admin"], 5);
  EXPECT_EQ(checked["public"], 2);

  // The gRPC methods, with the same rules.
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port),
                                     grpc::InsecureChannelCredentials());
  auto stub = inference::GRPCInferenceService::NewStub(channel);
  const auto call = [&](const std::string& method, const Key& key, const std::string& id = "") {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (!key.secret.empty()) context.AddMetadata("authorization", "Bearer " + key.secret);
    if (!id.empty()) context.AddMetadata("x-request-id", id);
    if (method == "ServerLive") {
      inference::ServerLiveResponse out;
      return stub->ServerLive(&context, {}, &out);
    }
    if (method == "ServerReady") {
      inference::ServerReadyResponse out;
      return stub->ServerReady(&context, {}, &out);
    }
    if (method == "ServerMetadata") {
      inference::ServerMetadataResponse out;
      return stub->ServerMetadata(&context, {}, &out);
    }
    if (method == "ModelReady") {
      inference::ModelReadyRequest in;
      in.set_name("fashion");
      inference::ModelReadyResponse out;
      return stub->ModelReady(&context, in, &out);
    }
    if (method == "ModelMetadata") {
      inference::ModelMetadataRequest in;
      in.set_name("fashion");
      inference::ModelMetadataResponse out;
      return stub->ModelMetadata(&context, in, &out);
    }
    EXPECT_EQ(method, "ModelInfer") << "a gRPC method this test does not know";
    inference::ModelInferRequest in;
    in.set_model_name("fashion");
    inference::ModelInferResponse out;
    return stub->ModelInfer(&context, in, &out);
  };
  int grpc_methods = 0;
  for (const json& r : routes) {
    if (r.value("protocol", "") != "grpc") continue;
    ++grpc_methods;
    const std::string method = r["method"];
    const auth::Action action = ActionFrom(r["action"]);
    for (const Key& key : keys) {
      const std::string id = fmt::format("matrix-{}", next_id++);
      const grpc::Status s = call(method, key, id);
      SCOPED_TRACE("gRPC " + method + " as " + key.name + ": " + s.error_message());
      if (action == auth::Action::kPublic) {
        EXPECT_TRUE(s.ok());
      } else if (!key.role) {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
        refused_ids.push_back(id);
      } else if (!auth::RoleAllows(*key.role, action)) {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        refused_ids.push_back(id);
      } else {
        EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
        EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      }
    }
    if (r["scope"] == "model-name") {
      EXPECT_EQ(call(method, other_admin).error_code(), grpc::StatusCode::NOT_FOUND) << method;
    }
  }
  EXPECT_EQ(grpc_methods, 6);

  // Every 401 and 403 above is in the audit logs (401s in a file of their own), and no log holds
  // a secret, nor any 11 characters of one.
  std::stringstream audit;
  for (const char* file : {"audit.jsonl", "unauthenticated.jsonl"}) {
    audit << std::ifstream(tmp_.path() / "data" / "audit" / file).rdbuf();
  }
  std::set<std::string> audited;
  std::string line;
  while (std::getline(audit, line)) {
    const json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    audited.insert(j.value("requestId", ""));
  }
  for (const std::string& id : refused_ids) EXPECT_TRUE(audited.contains(id)) << id;
  const std::string logs = audit.str() + server_->Log();
  for (const std::string& secret : secrets_) {
    ASSERT_EQ(secret.size(), 64u);
    for (size_t at = 21; at + 11 <= secret.size(); at += 4) {
      EXPECT_EQ(logs.find(secret.substr(at, 11)), std::string::npos)
          << "part of a key's secret was logged";
    }
  }
}

}  // namespace
}  // namespace tessera::testing
