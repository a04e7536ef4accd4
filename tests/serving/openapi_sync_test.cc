// docs/openapi.json must describe exactly the routes serve registers -- ControlPlaneApi's and the
// prediction frontends' -- (both ways), with their operationIds and path parameters, and the
// served copy must be the checked-in file.
#include <fstream>
#include <set>
#include <sstream>

#include "control/random_source.h"
#include "control/routing_table.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "serving/predict/kserve_v2_routes.h"
#include "serving/predict/model_resolver.h"
#include "serving/predict/prediction_service.h"
#include "serving/predict/replica_status_routes.h"
#include "serving/predict/tf_serving_routes.h"
#include "serving/predict/vertex_predict_routes.h"
#include "serving/rest/blocking_executor.h"
#include "serving/rest/control_plane_api.h"
#include "serving/rest/openapi_document.h"
#include "testing/test_paths.h"

namespace tessera::serving::rest {
namespace {

using serving::ModelResolver;
using serving::PredictionService;

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

// The prediction frontends' routes, as serve registers them (with stand-in dependencies: only
// the route table matters here).
std::vector<http::Router::RouteEntry> DataPlaneRoutes() {
  static RoutingTableHolder routing;
  static SeededRandom random(1);
  static const ModelResolver resolver(nullptr);
  static BlockingExecutor executor({.threads = 1});
  static std::unique_ptr<PredictionService> predictions =
      *PredictionService::Create({.routing = &routing, .random = &random});
  http::Router router;
  EXPECT_TRUE(AddVertexPredictRoutes(router, predictions.get(), &executor).ok());
  EXPECT_TRUE(AddTfServingRoutes(router, predictions.get(), &resolver, &executor).ok());
  EXPECT_TRUE(AddKserveV2Routes(router, predictions.get(), &resolver, &executor).ok());
  EXPECT_TRUE(
      AddReplicaStatusRoutes(
          router, {.deployed_models = [] { return std::vector<control::DeployedModelStatus>{}; }})
          .ok());
  return router.Routes();
}

TEST(OpenApiSyncTest, EveryDataPlaneRouteIsDocumented) {
  const json doc = LoadDoc();
  std::set<std::string> operation_ids;
  for (const auto& route : DataPlaneRoutes()) {
    const std::string method = Lower(route.method);
    ASSERT_TRUE(doc["paths"].contains(route.pattern))
        << "missing path in docs/openapi.json: " << route.pattern;
    ASSERT_TRUE(doc["paths"][route.pattern].contains(method))
        << "missing " << route.method << " " << route.pattern << " in docs/openapi.json";
    const json& op = doc["paths"][route.pattern][method];
    EXPECT_TRUE(operation_ids.insert(op.value("operationId", "")).second)
        << "missing or duplicate operationId at " << route.method << " " << route.pattern;
    std::set<std::string> documented;
    for (const json& p : op.value("parameters", json::array())) {
      if (p.value("in", "") == "path") documented.insert(p.value("name", ""));
    }
    EXPECT_EQ(documented, PathParams(route.pattern))
        << "path parameters of " << route.method << " " << route.pattern;
  }
}

TEST(OpenApiSyncTest, EveryRouteIsDocumented) {
  const json doc = LoadDoc();
  ASSERT_TRUE(doc.contains("paths"));
  for (const auto& route : ControlPlaneApi::Routes()) {
    const std::string path(route.pattern);
    const std::string method = Lower(route.method);
    ASSERT_TRUE(doc["paths"].contains(path)) << "missing path in docs/openapi.json: " << path;
    ASSERT_TRUE(doc["paths"][path].contains(method))
        << "missing " << route.method << " " << path << " in docs/openapi.json";
    const json& op = doc["paths"][path][method];
    EXPECT_EQ(op.value("operationId", ""), route.operation_id) << route.method << " " << path;
    std::set<std::string> documented;
    for (const json& p : op.value("parameters", json::array())) {
      if (p.value("in", "") == "path") documented.insert(p.value("name", ""));
    }
    EXPECT_EQ(documented, PathParams(path)) << "path parameters of " << route.method << " " << path;
  }
}

TEST(OpenApiSyncTest, EveryDocumentedOperationIsARoute) {
  const json doc = LoadDoc();
  std::set<std::pair<std::string, std::string>> routes;
  for (const auto& route : ControlPlaneApi::Routes()) {
    routes.emplace(Lower(route.method), std::string(route.pattern));
  }
  for (const auto& route : DataPlaneRoutes()) routes.emplace(Lower(route.method), route.pattern);
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
