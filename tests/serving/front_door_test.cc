// The front door (serving/front_door/front_door.h) without a server: how a key is read from
// headers, what a guarded handler sees and answers, the Warning with authentication off, the
// audit line of a mutation, and that every KServe gRPC method has an access rule.
#include "serving/front_door/front_door.h"

#include <google/protobuf/descriptor.h>

#include <fstream>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "registry/sqlite/sqlite_metadata_store.h"
#include "serving/front_door/secured_router.h"
#include "serving/grpc/kserve_grpc_server.h"
#include "serving/grpc/kserve_v2.pb.h"
#include "testing/fake_clock.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::serving {
namespace {

using ::testing::HasSubstr;

TEST(PresentedKeyTest, HeaderForms) {
  const std::string key = "tsk_0123456789abcdef_" + std::string(43, 'A');
  struct Case {
    std::vector<std::string> authorization, api_key;
    std::optional<std::string> want;  // nullopt with ok: no key
    bool ok;
  };
  const Case cases[] = {
      {{}, {}, std::nullopt, true},
      {{"Bearer " + key}, {}, key, true},
      {{"  bearer \t" + key + "  "}, {}, key, true},
      {{"BEARER " + key}, {}, key, true},
      {{}, {key}, key, true},
      {{}, {" " + key + " "}, key, true},
      {{"Bearer " + key}, {key}, key, true},  // the same key twice is one key
      {{"Bearer " + key}, {key + "x"}, std::nullopt, false},
      {{"Bearer " + key, "Bearer " + key}, {}, std::nullopt, false},
      {{}, {key, key}, std::nullopt, false},
      {{"Basic dXNlcjpwYXNz"}, {}, std::nullopt, false},
      {{"Bearer"}, {}, std::nullopt, false},
      {{"Bearer   "}, {}, std::nullopt, false},
      {{key}, {}, std::nullopt, false},  // a key without its scheme
      {{}, {""}, std::nullopt, false},
  };
  for (const Case& c : cases) {
    auto got = PresentedKey(c.authorization, c.api_key);
    ASSERT_EQ(got.ok(), c.ok) << (c.authorization.empty() ? "" : c.authorization[0]);
    if (c.ok) {
      EXPECT_EQ(*got, c.want);
    } else {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
    }
  }
}

class FrontDoorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = registry::sqlite::SqliteMetadataStore::Open({.path = tmp_.path() / "db"});
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    auto keys = auth::KeyService::Create(
        {.store = store_.get(), .clock = &clock_, .pepper = std::string(64, 'p')});
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
    auto made = keys_->CreateFirstAdminKey([&](const std::string& key) {
      admin_ = key;
      return absl::OkStatus();
    });
    ASSERT_TRUE(made.ok());
    auto audit = auth::AuditLog::Create({.path = tmp_.path() / "audit.jsonl"});
    ASSERT_TRUE(audit.ok());
    audit_ = std::move(*audit);
  }

  // Runs `handler` guarded by `access` on `request`; the response.
  http::HttpResponse Run(FrontDoor& door, RouteAccess access, http::HttpRequest request,
                         std::shared_ptr<const Principal>* seen = nullptr) {
    http::HttpResponse out;
    http::Handler guarded = door.Guard(access, [seen](http::HttpRequest&& r, http::Responder rr) {
      if (seen != nullptr) *seen = r.principal;
      rr.Respond(http::JsonResponse(200, nlohmann::json::object()));
    });
    guarded(std::move(request),
            http::Responder([&out](http::HttpResponse&& r) { out = std::move(r); }, "rid-1"));
    return out;
  }

  http::HttpRequest Request(const std::string& key, const std::string& project = "p") {
    http::HttpRequest r;
    r.method = "POST";
    r.path = "/v1/projects/" + project + "/locations/l/endpoints";
    r.request_id = "rid-1";
    r.remote_address = "127.0.0.1:1";
    r.path_params = {{"project", project}, {"location", "l"}};
    if (!key.empty()) r.headers.Set("Authorization", "Bearer " + key);
    return r;
  }

  Principal AdminPrincipal() { return *keys_->Authenticate(admin_)->principal; }

  std::vector<nlohmann::json> AuditLines() {
    std::vector<nlohmann::json> out;
    std::ifstream in(tmp_.path() / "audit.jsonl");
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  testing::ScopedTempDir tmp_;
  testing::FakeClock clock_;
  std::unique_ptr<registry::sqlite::SqliteMetadataStore> store_;
  std::unique_ptr<auth::KeyService> keys_;
  std::unique_ptr<auth::AuditLog> audit_;
  std::string admin_;
};

TEST_F(FrontDoorTest, TheHandlerSeesThePrincipalAndMutationsAreAudited) {
  auth::RateLimiter limits(&clock_);
  FrontDoor door(
      {.keys = keys_.get(), .key_limits = &limits, .audit = audit_.get(), .clock = &clock_});
  std::shared_ptr<const Principal> seen;
  http::HttpResponse r = Run(door, {auth::Action::kWrite, Scope::kProject}, Request(admin_), &seen);
  EXPECT_EQ(r.status, 200);
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->role, Role::kAdmin);
  EXPECT_FALSE(r.headers.Contains("Warning"));
  const auto lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["keyId"], seen->key_id);
  EXPECT_EQ(lines[0]["status"], 200);
  EXPECT_EQ(lines[0]["outcome"], "OK");
  EXPECT_EQ(lines[0]["requestId"], "rid-1");
  // A read is not audited.
  EXPECT_EQ(Run(door, {auth::Action::kRead, Scope::kProject}, Request(admin_)).status, 200);
  EXPECT_EQ(AuditLines().size(), 1u);
}

TEST_F(FrontDoorTest, RefusalsInTheRoutesShapeWithTheChallengeAndAudited) {
  auth::RateLimiter limits(&clock_);
  FrontDoor door(
      {.keys = keys_.get(), .key_limits = &limits, .audit = audit_.get(), .clock = &clock_});
  http::HttpResponse google = Run(door, {auth::Action::kRead, Scope::kProject}, Request(""));
  EXPECT_EQ(google.status, 401);
  EXPECT_EQ(google.headers.GetOr("WWW-Authenticate", ""), "Bearer realm=\"tessera\"");
  EXPECT_EQ(nlohmann::json::parse(google.body)["error"]["status"], "UNAUTHENTICATED");
  http::HttpResponse plain =
      Run(door, {auth::Action::kRead, Scope::kProject, ErrorShape::kPlain}, Request("nope"));
  EXPECT_EQ(plain.status, 401);
  EXPECT_THAT(nlohmann::json::parse(plain.body)["error"].get<std::string>(),
              HasSubstr("malformed"));
  // Another project: 403 naming the key, audited with its id.
  http::HttpResponse other =
      Run(door, {auth::Action::kRead, Scope::kProject}, Request(admin_, "q"));
  EXPECT_EQ(other.status, 200);  // the first admin key covers every project
  auto created = keys_->CreateKey({.role = Role::kViewer, .projects = {"p"}}, AdminPrincipal());
  ASSERT_TRUE(created.ok());
  http::HttpResponse denied =
      Run(door, {auth::Action::kRead, Scope::kProject}, Request(created->key, "q"));
  EXPECT_EQ(denied.status, 403);
  const auto lines = AuditLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["outcome"], "UNAUTHENTICATED");
  EXPECT_EQ(lines[2]["outcome"], "PERMISSION_DENIED");
  EXPECT_EQ(lines[2]["keyId"], created->record.key_id);
  EXPECT_EQ(lines[2]["role"], "viewer");
}

TEST_F(FrontDoorTest, AKeysRateLimitAnswers429WithRetryAfter) {
  auth::RateLimiter limits(&clock_);
  FrontDoor door({.keys = keys_.get(), .key_limits = &limits, .clock = &clock_});
  auto created =
      keys_->CreateKey({.role = Role::kViewer,
                        .projects = {"p"},
                        .rate_limit = registry::RateLimit{.requests_per_second = 1, .burst = 2}},
                       AdminPrincipal());
  ASSERT_TRUE(created.ok());
  const RouteAccess read{auth::Action::kRead, Scope::kProject};
  EXPECT_EQ(Run(door, read, Request(created->key)).status, 200);
  EXPECT_EQ(Run(door, read, Request(created->key)).status, 200);
  http::HttpResponse limited = Run(door, read, Request(created->key));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers.GetOr("Retry-After", ""), "1");
  EXPECT_EQ(nlohmann::json::parse(limited.body)["error"]["details"][0]["reason"],
            "RATE_LIMIT_EXCEEDED");
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Run(door, read, Request(created->key)).status, 200);
}

// Keys made by a limited project admin share its limit: two of them cannot together exceed it,
// and they draw on a bucket apart from the admin's own requests (its children cannot starve it).
TEST_F(FrontDoorTest, KeysMadeUnderALimitedKeyShareItsLimit) {
  auth::RateLimiter limits(&clock_);
  FrontDoor door({.keys = keys_.get(), .key_limits = &limits, .clock = &clock_});
  const registry::RateLimit three{.requests_per_second = 1, .burst = 3};
  auto parent = keys_->CreateKey({.role = Role::kAdmin, .projects = {"p"}, .rate_limit = three},
                                 AdminPrincipal());
  ASSERT_TRUE(parent.ok());
  const Principal parent_principal = *keys_->Authenticate(parent->key)->principal;
  std::vector<std::string> children;
  for (int i = 0; i < 2; ++i) {
    auto child = keys_->CreateKey({.role = Role::kViewer, .projects = {"p"}, .rate_limit = three},
                                  parent_principal);
    ASSERT_TRUE(child.ok()) << child.status();
    children.push_back(child->key);
  }
  const RouteAccess read{auth::Action::kRead, Scope::kProject};
  EXPECT_EQ(Run(door, read, Request(children[0])).status, 200);
  EXPECT_EQ(Run(door, read, Request(children[1])).status, 200);
  EXPECT_EQ(Run(door, read, Request(children[0])).status, 200);
  http::HttpResponse limited = Run(door, read, Request(children[1]));
  EXPECT_EQ(limited.status, 429);
  EXPECT_THAT(limited.body, HasSubstr("the keys made under key " + parent->record.key_id));
  EXPECT_EQ(nlohmann::json::parse(limited.body)["error"]["details"][0]["metadata"]["limit"],
            "keysMadeUnderKey");
  EXPECT_EQ(Run(door, read, Request(parent->key)).status, 200);
}

TEST_F(FrontDoorTest, AuthenticationOffMakesAnAnonymousAdminAndSaysSoOnEveryResponse) {
  FrontDoor door({.clock = &clock_});
  std::shared_ptr<const Principal> seen;
  http::HttpResponse r = Run(door, {auth::Action::kAdmin, Scope::kGlobal}, Request(""), &seen);
  EXPECT_EQ(r.status, 200);
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->key_id, "anonymous");
  EXPECT_TRUE(seen->AllProjects());
  EXPECT_EQ(r.headers.GetOr("Warning", ""), std::string(kAuthOffWarning));
  // Public routes and refusals carry it too.
  EXPECT_EQ(
      Run(door, {auth::Action::kPublic, Scope::kGlobal}, Request("")).headers.GetOr("Warning", ""),
      std::string(kAuthOffWarning));
  // Credentials are not read at all (so there is no refusal): a client configured with a key,
  // or with anything, is served.
  http::HttpRequest with_header = Request("");
  with_header.headers.Set("Authorization", "Basic x");
  http::HttpResponse served =
      Run(door, {auth::Action::kRead, Scope::kProject}, std::move(with_header));
  EXPECT_EQ(served.status, 200);
  EXPECT_EQ(served.headers.GetOr("Warning", ""), std::string(kAuthOffWarning));
}

TEST_F(FrontDoorTest, ABodyWithoutAValidKeyIsRefusedAtItsHeaderAndAudited) {
  auto other = auth::AuditLog::Create({.path = tmp_.path() / "unauthenticated.jsonl"});
  ASSERT_TRUE(other.ok());
  FrontDoor door({.keys = keys_.get(),
                  .audit = audit_.get(),
                  .unauthenticated_audit = other->get(),
                  .clock = &clock_});
  const auto admit = [&](std::vector<std::pair<std::string, std::string>> fields) {
    http::HttpHeaders headers;
    for (auto& [name, value] : fields) headers.Add(name, value);
    return door.AdmitBody({.method = "POST",
                           .target = "/v1/models/m%20x:predict?x=1",
                           .request_id = "rid-2",
                           .remote_address = "127.0.0.1:2",
                           .headers = headers},
                          nullptr);
  };
  EXPECT_TRUE(admit({{"Authorization", "Bearer " + admin_}}).ok());
  EXPECT_TRUE(admit({{"X-Api-Key", admin_}}).ok());
  for (const auto& fields : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {}, {{"Authorization", "Basic x"}}, {{"x-api-key", "tsk_nope"}}}) {
    EXPECT_EQ(admit(fields).code(), absl::StatusCode::kUnauthenticated);
  }
  // 401s go to their own file, never to the mutations' one.
  std::ifstream in(tmp_.path() / "unauthenticated.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["resource"], "/v1/models/m x:predict");  // decoded, as the route logs it
    EXPECT_EQ(j["status"], 401);
    ++lines;
  }
  EXPECT_EQ(lines, 3);
  EXPECT_TRUE(AuditLines().empty());
  // Authentication off: every body is admitted.
  FrontDoor open_door({.clock = &clock_});
  http::HttpHeaders none;
  EXPECT_TRUE(open_door
                  .AdmitBody({.method = "POST",
                              .target = "/",
                              .request_id = "",
                              .remote_address = "",
                              .headers = none},
                             nullptr)
                  .ok());
}

// A valid key that may not make the call is refused at the header too (its body would only be
// refused later): a viewer key cannot hold the body budget with uploads it may not send.
TEST_F(FrontDoorTest, AKeyWithoutTheRightIsRefusedAtTheHeaderOfTheRouteItMatched) {
  auth::RateLimiter limits(&clock_);
  FrontDoor door(
      {.keys = keys_.get(), .key_limits = &limits, .audit = audit_.get(), .clock = &clock_});
  http::Router router;
  SecuredRouter secured(router, door);
  const http::Handler h = [](http::HttpRequest&&, http::Responder) {};
  ASSERT_TRUE(secured
                  .Add("POST", "/v1/projects/{project}/locations/{location}/endpoints",
                       {auth::Action::kWrite, Scope::kProject}, h)
                  .ok());
  ASSERT_TRUE(secured
                  .Add("POST",
                       "/v1/projects/{project}/locations/{location}/endpoints/{endpoint}:predict",
                       {auth::Action::kPredict, Scope::kEndpoint}, h)
                  .ok());
  ASSERT_TRUE(secured.Add("POST", "/v1/public", {auth::Action::kPublic, Scope::kGlobal}, h).ok());
  const registry::RateLimit one{.requests_per_second = 1, .burst = 1};
  auto viewer = keys_->CreateKey({.role = Role::kViewer, .projects = {"p"}}, AdminPrincipal());
  auto predictor = keys_->CreateKey({.role = Role::kPredictor,
                                     .projects = {"p"},
                                     .endpoints = {"projects/p/locations/l/endpoints/e1"},
                                     .rate_limit = one},
                                    AdminPrincipal());
  ASSERT_TRUE(viewer.ok() && predictor.ok());
  const auto admit = [&](const std::string& target, const std::string& key) {
    http::HttpHeaders headers;
    if (!key.empty()) headers.Set("x-api-key", key);
    return secured
        .AdmitBody({.method = "POST",
                    .target = target,
                    .request_id = "rid-3",
                    .remote_address = "127.0.0.1:3",
                    .headers = headers})
        .code();
  };
  using absl::StatusCode;
  EXPECT_EQ(admit("/v1/projects/p/locations/l/endpoints", viewer->key),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(admit("/v1/projects/p/locations/l/endpoints", admin_), StatusCode::kOk);
  EXPECT_EQ(admit("/v1/projects/q/locations/l/endpoints", predictor->key),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(admit("/v1/projects/p/locations/l/endpoints/e2:predict", predictor->key),
            StatusCode::kPermissionDenied);
  // The header check takes no token: the predictor's one request a second is still there...
  const std::string e1 = "/v1/projects/p/locations/l/endpoints/e1:predict";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(admit(e1, predictor->key), StatusCode::kOk);
  // ...and once the full check took it, the next body is refused at its header.
  ASSERT_TRUE(door.Admit({auth::Action::kPredict, Scope::kEndpoint},
                         {.project = "p", .endpoint = "projects/p/locations/l/endpoints/e1"},
                         predictor->key)
                  .status.ok());
  EXPECT_EQ(admit(e1, predictor->key), StatusCode::kResourceExhausted);
  // A body needs a valid key on every route, public ones and paths no route matches included.
  EXPECT_EQ(admit("/v1/public", ""), StatusCode::kUnauthenticated);
  EXPECT_EQ(admit("/v1/public", viewer->key), StatusCode::kOk);
  EXPECT_EQ(admit("/v1/nowhere", ""), StatusCode::kUnauthenticated);
  EXPECT_EQ(admit("/v1/nowhere", viewer->key), StatusCode::kOk);
  // The 403s are audited with the key that was refused (and the keyless 401s too: this door has
  // no separate log for those); the 429 of a call that changes nothing is not.
  const std::vector<nlohmann::json> lines = AuditLines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[3]["status"], 401);
  EXPECT_EQ(lines[4]["status"], 401);
  EXPECT_EQ(lines[0]["keyId"], viewer->record.key_id);
  EXPECT_EQ(lines[0]["status"], 403);
  EXPECT_EQ(lines[2]["resource"], "/v1/projects/p/locations/l/endpoints/e2:predict");
}

TEST_F(FrontDoorTest, ScopesNeedTheParametersTheyCheck) {
  FrontDoor door({.clock = &clock_});
  http::Router router;
  SecuredRouter secured(router, door);
  const http::Handler h = [](http::HttpRequest&&, http::Responder) {};
  EXPECT_EQ(secured.Add("GET", "/v1/things", {auth::Action::kRead, Scope::kProject}, h).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(secured
                .Add("POST", "/v1/projects/{project}/x:predict",
                     {auth::Action::kPredict, Scope::kEndpoint}, h)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      secured.Add("GET", "/v1/projects/{project}/things", {auth::Action::kRead, Scope::kProject}, h)
          .ok());
  EXPECT_TRUE(UnguardedRoutes(router, secured).empty());
  ASSERT_TRUE(router.Add("GET", "/v1/open", h).ok());  // around the front door
  ASSERT_EQ(UnguardedRoutes(router, secured).size(), 1u);
  EXPECT_EQ(UnguardedRoutes(router, secured)[0].pattern, "/v1/open");
}

TEST(KserveGrpcAccessTest, EveryMethodOfTheServiceHasAnAccessRule) {
  // Through a message of the same file, so the generated descriptors are linked in.
  const google::protobuf::ServiceDescriptor* service =
      inference::ModelInferRequest::descriptor()->file()->FindServiceByName("GRPCInferenceService");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->full_name(), KserveGrpcServer::ServiceName());
  std::set<std::string> ruled;
  for (const auto& m : KserveGrpcServer::Methods()) ruled.insert(m.method);
  std::set<std::string> methods;
  for (int i = 0; i < service->method_count(); ++i) methods.insert(service->method(i)->name());
  EXPECT_EQ(ruled, methods) << "a gRPC method without an access rule (KserveGrpcServer::Methods)";
}

}  // namespace
}  // namespace tessera::serving
