// docs/openapi.json must describe exactly the routes serve registers -- ControlPlaneApi's,
// AdminApi's and the prediction frontends' -- (both ways), with their operationIds, path
// parameters and access rules, and the served copy must be the checked-in file.
#include <fstream>
#include <set>
#include <sstream>

#include "control/random_source.h"
#include "control/routing_table.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "serving/front_door/secured_router.h"
#include "serving/observability/logging_routes.h"
#include "serving/observability/metrics_routes.h"
#include "serving/observability/time_series.h"
#include "serving/predict/kserve_v2_routes.h"
#include "serving/predict/model_resolver.h"
#include "serving/predict/prediction_service.h"
#include "serving/predict/replica_status_routes.h"
#include "serving/predict/tf_serving_routes.h"
#include "serving/predict/vertex_predict_routes.h"
#include "serving/rest/admin_api.h"
#include "serving/rest/blocking_executor.h"
#include "serving/rest/control_plane_api.h"
#include "serving/rest/openapi_document.h"
#include "testing/test_paths.h"

namespace tessera::serving::rest {
namespace {

using serving::FrontDoor;
using serving::ModelResolver;
using serving::PredictionService;
using serving::RouteAccess;
using serving::ScopeName;
using serving::SecuredRouter;
using serving::UnguardedRoutes;

using nlohmann::json;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

json LoadDoc() {
  std::ifstream in(testing::SourceDir() / "docs" / "openapi.json");
  EXPECT_TRUE(in.good()) << "docs/openapi.json missing";
  std::stringstream text;
  text << in.rdbuf();
  json doc = json::parse(text.str(), nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << "docs/openapi.json is not valid JSON";
  return doc;
}

// "{project}", "{location}", ... in a route pattern.
std::set<std::string> PathParams(std::string_view pattern) {
  std::set<std::string> out;
  size_t pos = 0;
  while ((pos = pattern.find('{', pos)) != std::string_view::npos) {
    const size_t end = pattern.find('}', pos);
    out.insert(std::string(pattern.substr(pos + 1, end - pos - 1)));
    pos = end;
  }
  return out;
}

// One route with its access rule, from whichever API registers it.
struct DocumentedRoute {
  std::string method;
  std::string pattern;
  std::string operation_id;  // "" where the API does not name it (the data plane's routes)
  RouteAccess access;
};

// Every route serve registers -- the control plane's, the admin API's and the prediction
// frontends' (the latter with stand-in dependencies: only the route table matters here).
std::vector<DocumentedRoute> AllRoutes() {
  std::vector<DocumentedRoute> out;
  for (const auto& r : ControlPlaneApi::Routes()) {
    out.push_back(
        {std::string(r.method), std::string(r.pattern), std::string(r.operation_id), r.access});
  }
  for (const auto& r : AdminApi::Routes()) {
    out.push_back(
        {std::string(r.method), std::string(r.pattern), std::string(r.operation_id), r.access});
  }
  static RoutingTableHolder routing;
  static SeededRandom random(1);
  static const ModelResolver resolver(nullptr);
  static BlockingExecutor executor({.threads = 1});
  static RealClock clock;
  static FrontDoor door({.clock = &clock});
  static std::unique_ptr<PredictionService> predictions =
      *PredictionService::Create({.routing = &routing, .random = &random});
  http::Router router;
  SecuredRouter secured(router, door);
  EXPECT_TRUE(
      AddVertexPredictRoutes(secured, predictions.get(), PredictRunner{.executor = &executor})
          .ok());
  EXPECT_TRUE(AddTfServingRoutes(secured, predictions.get(), &resolver,
                                 PredictRunner{.executor = &executor})
                  .ok());
  EXPECT_TRUE(
      AddKserveV2Routes(secured, predictions.get(), &resolver, PredictRunner{.executor = &executor})
          .ok());
  EXPECT_TRUE(
      AddReplicaStatusRoutes(
          secured, {.deployed_models = [] { return std::vector<control::DeployedModelStatus>{}; }})
          .ok());
  static const metrics::MetricsRegistry registry;
  static const std::unique_ptr<TimeSeriesRecorder> time_series =
      *TimeSeriesRecorder::Create({.registry = &registry});
  EXPECT_TRUE(AddMetricsRoute(secured, &registry).ok());
  EXPECT_TRUE(AddLoggingRoutes(secured).ok());
  EXPECT_TRUE(AddTimeSeriesRoute(secured, time_series.get(), [](const std::string&) {
                return absl::OkStatus();
              }).ok());
  EXPECT_TRUE(UnguardedRoutes(router, secured).empty());
  for (const SecuredRouter::Entry& e : secured.routes()) {
    out.push_back({e.method, e.pattern, "", e.access});
  }
  return out;
}

TEST(OpenApiSyncTest, EveryRouteIsDocumentedWithItsAccess) {
  const json doc = LoadDoc();
  ASSERT_TRUE(doc.contains("paths"));
  std::set<std::string> operation_ids;
  for (const DocumentedRoute& route : AllRoutes()) {
    const std::string method = Lower(route.method);
    const std::string where = route.method + " " + route.pattern;
    ASSERT_TRUE(doc["paths"].contains(route.pattern))
        << "missing path in docs/openapi.json: " << route.pattern;
    ASSERT_TRUE(doc["paths"][route.pattern].contains(method))
        << "missing " << where << " in docs/openapi.json";
    const json& op = doc["paths"][route.pattern][method];
    EXPECT_TRUE(operation_ids.insert(op.value("operationId", "")).second)
        << "missing or duplicate operationId at " << where;
    if (!route.operation_id.empty()) {
      EXPECT_EQ(op.value("operationId", ""), route.operation_id) << where;
    }
    std::set<std::string> documented;
    for (const json& p : op.value("parameters", json::array())) {
      if (p.value("in", "") == "path") documented.insert(p.value("name", ""));
    }
    EXPECT_EQ(documented, PathParams(route.pattern)) << "path parameters of " << where;
    // Who may call it: Tessera's extension, and OpenAPI's own `security` (the document's
    // default is the API key; a public route overrides it with none).
    const json access = op.value("x-tessera-access", json::object());
    EXPECT_EQ(access.value("action", ""), auth::ActionName(route.access.action)) << where;
    EXPECT_EQ(access.value("scope", ""), ScopeName(route.access.scope)) << where;
    const bool is_public = route.access.action == auth::Action::kPublic;
    EXPECT_EQ(op.contains("security") && op["security"] == json::array(), is_public)
        << where << (is_public ? " is public: give it \"security\": []" : " needs a key");
  }
  ASSERT_TRUE(doc.contains("security"));
  EXPECT_EQ(doc["security"], json::parse(R"([{"apiKey": []}, {"bearer": []}])"));
}

TEST(OpenApiSyncTest, EveryDocumentedOperationIsARoute) {
  const json doc = LoadDoc();
  std::set<std::pair<std::string, std::string>> routes;
  for (const DocumentedRoute& route : AllRoutes())
    routes.emplace(Lower(route.method), route.pattern);
  for (auto path = doc["paths"].begin(); path != doc["paths"].end(); ++path) {
    for (auto method = path.value().begin(); method != path.value().end(); ++method) {
      EXPECT_TRUE(routes.count({method.key(), path.key()}))
          << "docs/openapi.json documents " << method.key() << " " << path.key()
          << " but no route serves it";
    }
  }
}

TEST(OpenApiSyncTest, ServedDocumentIsTheCheckedInFile) {
  std::ifstream in(testing::SourceDir() / "docs" / "openapi.json");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(std::string(OpenApiDocument()), text.str())
      << "the embedded copy is stale: re-run cmake";
}

TEST(OpenApiSyncTest, SchemaReferencesResolve) {
  const json doc = LoadDoc();
  const json& schemas = doc["components"]["schemas"];
  std::function<void(const json&)> visit = [&](const json& node) {
    if (node.is_object()) {
      if (node.contains("$ref")) {
        const std::string ref = node["$ref"];
        const std::string prefix = "#/components/schemas/";
        ASSERT_EQ(ref.rfind(prefix, 0), 0u) << ref;
        EXPECT_TRUE(schemas.contains(ref.substr(prefix.size()))) << "dangling " << ref;
      }
      for (const auto& [k, v] : node.items()) visit(v);
    } else if (node.is_array()) {
      for (const auto& v : node) visit(v);
    }
  };
  visit(doc);
}

}  // namespace
}  // namespace tessera::serving::rest
