#include "common/http/router.h"

#include <map>
#include <string>
#include <vector>

#include "common/http/google_error.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tessera::http {
namespace {

constexpr char kEndpointPredict[] =
    "/v1/projects/{project}/locations/{location}/endpoints/{endpoint}:predict";
constexpr char kEndpointRawPredict[] =
    "/v1/projects/{project}/locations/{location}/endpoints/{endpoint}:rawPredict";
constexpr char kEndpoint[] = "/v1/projects/{project}/locations/{location}/endpoints/{endpoint}";
constexpr char kModelVersions[] =
    "/v1/projects/{project}/locations/{location}/models/{model}:listVersions";
constexpr char kModel[] = "/v1/projects/{project}/locations/{location}/models/{model}";
constexpr char kModels[] = "/v1/projects/{project}/locations/{location}/models";
constexpr char kModelsUpload[] = "/v1/projects/{project}/locations/{location}/models:upload";
constexpr char kTfPredict[] = "/v1/models/{name}/versions/{version}:predict";
constexpr char kTfLabelPredict[] = "/v1/models/{name}/labels/{label}:predict";
constexpr char kTfModelPredict[] = "/v1/models/{name}:predict";
constexpr char kTfModel[] = "/v1/models/{name}";
constexpr char kTfMetadata[] = "/v1/models/{name}/metadata";
constexpr char kKserveInfer[] = "/v2/models/{name}/infer";
constexpr char kKserveVersionInfer[] = "/v2/models/{name}/versions/{version}/infer";
constexpr char kKserveLive[] = "/v2/health/live";
constexpr char kRoot[] = "/";

Handler Noop() {
  return [](HttpRequest&&, Responder r) { r(TextResponse(200, "")); };
}

Router MakeRouter() {
  Router router;
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"POST", kEndpointPredict},
      {"POST", kEndpointRawPredict},
      {"GET", kEndpoint},
      {"DELETE", kEndpoint},
      {"PATCH", kEndpoint},
      {"GET", kModelVersions},
      {"GET", kModel},
      {"DELETE", kModel},
      {"GET", kModels},
      {"POST", kModelsUpload},
      {"POST", kTfPredict},
      {"POST", kTfLabelPredict},
      {"POST", kTfModelPredict},
      {"GET", kTfModel},
      {"GET", kTfMetadata},
      {"POST", kKserveInfer},
      {"POST", kKserveVersionInfer},
      {"GET", kKserveLive},
      {"GET", kRoot},
  };
  for (const auto& [method, pattern] : routes) {
    EXPECT_TRUE(router.Add(method, pattern, Noop()).ok()) << method << " " << pattern;
  }
  return router;
}

struct MatchCase {
  std::string method;
  std::string target;
  Router::MatchKind kind;
  std::string pattern;                        // for kFound
  std::map<std::string, std::string> params;  // for kFound
  std::vector<std::string> allowed;           // for kMethodNotAllowed
};

TEST(RouterTest, MatchTable) {
  const Router router = MakeRouter();
  using K = Router::MatchKind;
  const std::vector<MatchCase> cases = {
      {"POST",
       "/v1/projects/p1/locations/us-central1/endpoints/123:predict",
       K::kFound,
       kEndpointPredict,
       {{"project", "p1"}, {"location", "us-central1"}, {"endpoint", "123"}}},
      {"POST",
       "/v1/projects/p1/locations/l/endpoints/123:rawPredict",
       K::kFound,
       kEndpointRawPredict,
       {{"project", "p1"}, {"location", "l"}, {"endpoint", "123"}}},
      // The query string plays no part.
      {"GET",
       "/v1/projects/p/locations/l/endpoints/9?view=full",
       K::kFound,
       kEndpoint,
       {{"project", "p"}, {"location", "l"}, {"endpoint", "9"}}},
      // A parameter never swallows a custom method...
      {"GET",
       "/v1/projects/p/locations/l/models/7:listVersions",
       K::kFound,
       kModelVersions,
       {{"project", "p"}, {"location", "l"}, {"model", "7"}}},
      {"GET",
       "/v1/projects/p/locations/l/models/7",
       K::kFound,
       kModel,
       {{"project", "p"}, {"location", "l"}, {"model", "7"}}},
      // ... '@' is an ordinary character of a parameter ...
      {"GET",
       "/v1/projects/p/locations/l/models/123@2",
       K::kFound,
       kModel,
       {{"project", "p"}, {"location", "l"}, {"model", "123@2"}}},
      {"GET",
       "/v1/projects/p/locations/l/models/123@default:listVersions",
       K::kFound,
       kModelVersions,
       {{"project", "p"}, {"location", "l"}, {"model", "123@default"}}},
      // ... percent-encoded characters are decoded, and an encoded ':' is not a verb.
      {"GET",
       "/v1/projects/my%20proj/locations/l/models/123%402",
       K::kFound,
       kModel,
       {{"project", "my proj"}, {"location", "l"}, {"model", "123@2"}}},
      {"GET",
       "/v1/projects/p/locations/l/models/a%3AlistVersions",
       K::kFound,
       kModel,
       {{"project", "p"}, {"location", "l"}, {"model", "a:listVersions"}}},
      {"GET",
       "/v1/projects/p/locations/l/models/a%2Fb",
       K::kFound,
       kModel,
       {{"project", "p"}, {"location", "l"}, {"model", "a/b"}}},
      // Literal + verb vs literal.
      {"POST",
       "/v1/projects/p/locations/l/models:upload",
       K::kFound,
       kModelsUpload,
       {{"project", "p"}, {"location", "l"}}},
      {"GET",
       "/v1/projects/p/locations/l/models",
       K::kFound,
       kModels,
       {{"project", "p"}, {"location", "l"}}},
      // TF Serving and KServe v2.
      {"POST",
       "/v1/models/fashion/versions/2:predict",
       K::kFound,
       kTfPredict,
       {{"name", "fashion"}, {"version", "2"}}},
      {"POST",
       "/v1/models/fashion/labels/stable:predict",
       K::kFound,
       kTfLabelPredict,
       {{"name", "fashion"}, {"label", "stable"}}},
      {"POST", "/v1/models/fashion:predict", K::kFound, kTfModelPredict, {{"name", "fashion"}}},
      {"GET", "/v1/models/fashion", K::kFound, kTfModel, {{"name", "fashion"}}},
      // A literal beats a parameter at the same position.
      {"GET", "/v1/models/fashion/metadata", K::kFound, kTfMetadata, {{"name", "fashion"}}},
      {"POST", "/v2/models/vit/infer", K::kFound, kKserveInfer, {{"name", "vit"}}},
      {"POST",
       "/v2/models/vit/versions/3/infer",
       K::kFound,
       kKserveVersionInfer,
       {{"name", "vit"}, {"version", "3"}}},
      {"GET", "/v2/health/live", K::kFound, kKserveLive, {}},
      {"GET", "/", K::kFound, kRoot, {}},
      // Not found: unknown verb, unknown path, wrong segment count, empty parameter, trailing
      // slash, a verb where the pattern has none.
      {"POST", "/v1/projects/p/locations/l/endpoints/1:explain", K::kNotFound},
      {"GET", "/v3/anything", K::kNotFound},
      {"GET", "/v1/projects/p/locations/l", K::kNotFound},
      {"GET", "/v1/projects/p/locations//models/7", K::kNotFound},
      {"GET", "/v2/health/live/", K::kNotFound},
      {"GET", "/v1/models/fashion:status", K::kNotFound},
      {"GET", "", K::kNotFound},
      {"GET", "v1/models/x", K::kNotFound},
      // Known path, wrong method.
      {"GET",
       "/v1/projects/p/locations/l/endpoints/1:predict",
       K::kMethodNotAllowed,
       "",
       {},
       {"POST"}},
      {"POST",
       "/v1/projects/p/locations/l/endpoints/1",
       K::kMethodNotAllowed,
       "",
       {},
       {"DELETE", "GET", "PATCH"}},
      {"PUT",
       "/v1/projects/p/locations/l/models/1",
       K::kMethodNotAllowed,
       "",
       {},
       {"DELETE", "GET"}},
      // A malformed escape in a parameter.
      {"GET", "/v1/projects/p/locations/l/models/bad%zz", K::kBadPath},
  };
  for (const MatchCase& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target);
    const Router::MatchResult m = router.Match(c.method, c.target);
    EXPECT_EQ(m.kind, c.kind);
    if (c.kind == K::kFound) {
      EXPECT_EQ(m.pattern, c.pattern);
      EXPECT_EQ(m.params, c.params);
      EXPECT_NE(m.handler, nullptr);
    }
    if (c.kind == K::kMethodNotAllowed) {
      EXPECT_EQ(m.allowed_methods, c.allowed);
    }
    if (c.kind == K::kBadPath) {
      EXPECT_EQ(m.error.code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(RouterTest, LiteralFallsBackToParameterForOtherMethods) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/v1/models/{name}", Noop()).ok());
  ASSERT_TRUE(router.Add("POST", "/v1/models/special", Noop()).ok());
  const auto get = router.Match("GET", "/v1/models/special");
  EXPECT_EQ(get.kind, Router::MatchKind::kFound);
  EXPECT_EQ(get.pattern, "/v1/models/{name}");
  EXPECT_EQ(router.Match("POST", "/v1/models/special").pattern, "/v1/models/special");
  EXPECT_EQ(router.Match("POST", "/v1/models/other").kind, Router::MatchKind::kMethodNotAllowed);
  // Registration order does not matter: the literal wins for its own method.
  ASSERT_TRUE(router.Add("GET", "/v1/models/latest", Noop()).ok());
  EXPECT_EQ(router.Match("GET", "/v1/models/latest").pattern, "/v1/models/latest");
  EXPECT_EQ(router.Match("GET", "/v1/models/older").pattern, "/v1/models/{name}");
}

TEST(RouterTest, RejectsBadPatterns) {
  Router router;
  const std::vector<std::string> bad = {
      "",           "v1/models",         "/v1/{a",    "/v1/{}", "/v1/{1x}",
      "/v1/x{a}",   "/v1/{a}/{a}",       "/v1/:verb", "/v1/a:", "/v1/a:b/c",
      "/v1/a b:c!", "/v1/{a}:predict:x", "/v1/%41",
  };
  for (const std::string& pattern : bad) {
    EXPECT_EQ(router.Add("GET", pattern, Noop()).code(), absl::StatusCode::kInvalidArgument)
        << pattern;
  }
  EXPECT_EQ(router.Add("G T", "/x", Noop()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/x", nullptr).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RouterTest, RejectsDuplicateRoutes) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/v1/models/{name}", Noop()).ok());
  EXPECT_EQ(router.Add("GET", "/v1/models/{other}", Noop()).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(router.Add("POST", "/v1/models/{name}", Noop()).ok());
  EXPECT_TRUE(router.Add("GET", "/v1/models/{name}:listVersions", Noop()).ok());
  // Routes() lists what was accepted, in order (refused duplicates are not there).
  const std::vector<Router::RouteEntry> routes = router.Routes();
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].method, "GET");
  EXPECT_EQ(routes[0].pattern, "/v1/models/{name}");
  EXPECT_EQ(routes[1].method, "POST");
  EXPECT_EQ(routes[2].pattern, "/v1/models/{name}:listVersions");
}

// Dispatch answers through the Responder; capture what it sends.
HttpResponse DispatchAndCapture(const Router& router, std::string method, std::string target) {
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  HttpResponse captured;
  captured.status = -1;
  router.Dispatch(std::move(request),
                  Responder([&](HttpResponse&& r) { captured = std::move(r); }));
  return captured;
}

TEST(RouterTest, DispatchFillsPathParamsAndCallsHandler) {
  Router router;
  ASSERT_TRUE(router
                  .AddSync("POST", kEndpointPredict,
                           [](HttpRequest&& request) {
                             return TextResponse(200, request.PathParam("project") + "|" +
                                                          request.PathParam("endpoint"));
                           })
                  .ok());
  const HttpResponse r =
      DispatchAndCapture(router, "POST", "/v1/projects/p%201/locations/l/endpoints/42:predict");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "p 1|42");
}

TEST(RouterTest, DispatchErrorsAreGoogleErrors) {
  const Router router = MakeRouter();
  const HttpResponse not_found = DispatchAndCapture(router, "GET", "/nope");
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(not_found.content_type, "application/json");
  const auto body = nlohmann::json::parse(not_found.body);
  EXPECT_EQ(body["error"]["code"], 404);
  EXPECT_EQ(body["error"]["status"], "NOT_FOUND");

  const HttpResponse not_allowed =
      DispatchAndCapture(router, "POST", "/v1/projects/p/locations/l/endpoints/1");
  EXPECT_EQ(not_allowed.status, 405);
  ASSERT_NE(not_allowed.headers.Find("allow"), nullptr);
  EXPECT_EQ(*not_allowed.headers.Find("Allow"), "DELETE, GET, PATCH");
  EXPECT_EQ(nlohmann::json::parse(not_allowed.body)["error"]["code"], 405);

  const HttpResponse bad = DispatchAndCapture(router, "GET", "/v1/models/x%zz");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(StatusFromHttpResponse(bad).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::http
