// The router side of prediction on hostile bodies: Vertex :predict and :rawPredict, TF Serving
// :predict (row and columnar) and KServe v2 /infer (JSON and binary), through the real routes,
// offload executor and PredictionService, to a stand-in replica on a unix socket that decodes
// what the router forwards with the replica's own codec (runtime/predict_codec.h) and answers
// one prediction per instance. Byte 0 picks the route (and for KServe binary, bytes 1-2 the
// Inference-Header-Content-Length); the rest is the body.
//
// Findings: a crash, a request never answered, a 500 (hostile input is the client's error: the
// router must refuse it with 4xx or forward something the replica accepts), or a non-JSON answer.
#include <future>
#include <memory>

#include "common/http/google_error.h"
#include "common/http/http_server.h"
#include "common/http/router.h"
#include "control/random_source.h"
#include "control/routing_table.h"
#include "fuzz_util.h"
#include "nlohmann/json.hpp"
#include "runtime/predict_codec.h"
#include "serving/front_door/secured_router.h"
#include "serving/predict/kserve_v2_routes.h"
#include "serving/predict/model_resolver.h"
#include "serving/predict/payload_log.h"
#include "serving/predict/predict_metrics.h"
#include "serving/predict/prediction_service.h"
#include "serving/predict/tf_serving_routes.h"
#include "serving/predict/vertex_predict_routes.h"
#include "serving/rest/blocking_executor.h"
#include "spdlog/spdlog.h"

namespace http = tessera::http;
namespace runtime = tessera::runtime;
namespace serving = tessera::serving;
using tessera::fuzz::Require;

namespace {

constexpr char kEndpoint[] = "projects/p/locations/l/endpoints/e1";

// What `tessera replica` answers, with fixed labels instead of a model.
http::HttpResponse ReplicaAnswer(http::HttpRequest& request) {
  runtime::PredictParameters parameters;
  size_t instances = 1;
  if (request.path == "/predict") {
    absl::StatusOr<runtime::ParsedPredictRequest> parsed = runtime::ParsePredictRequest(
        request.body, {.input_key = "string_input", .max_instances = 64});
    if (!parsed.ok()) return http::GoogleErrorResponse(parsed.status());
    parameters = parsed->parameters;
    instances = parsed->images.size();
  } else if (request.path != "/predict_bytes") {
    return http::GoogleErrorResponse(absl::NotFoundError(request.path));
  }
  std::vector<tessera::engine::Prediction> top = {{.label = "Sneaker", .confidence = 0.75f},
                                                  {.label = "Sandal", .confidence = 0.25f}};
  top.resize(std::min<size_t>(top.size(), static_cast<size_t>(parameters.top_k)));
  nlohmann::ordered_json predictions = nlohmann::ordered_json::array();
  for (size_t i = 0; i < instances; ++i) {
    predictions.push_back(runtime::PredictionToJson(top, parameters));
  }
  http::HttpResponse response;
  response.content_type = std::string(http::kJsonContentType);
  response.body = nlohmann::ordered_json{{"predictions", std::move(predictions)}}.dump();
  return response;
}

struct Harness {
  Harness() {
    spdlog::set_level(spdlog::level::off);
    const std::string socket = (tessera::fuzz::ScratchDir() / "replica.sock").string();
    http::HttpServer::Options options;
    options.tcp_address = "";
    options.unix_socket_path = socket;
    options.handler = [](http::HttpRequest&& request, http::Responder responder) {
      responder.Respond(ReplicaAnswer(request));
    };
    auto server = http::HttpServer::Create(options);
    Require(server.ok(), "stand-in replica did not start");
    replica = std::move(*server);

    tessera::RoutedDeployedModel dm;
    dm.id = "1";
    dm.model = "projects/p/locations/l/models/fashion";
    dm.model_version_id = "1";
    dm.model_display_name = "Fashion";
    dm.ready_replicas.push_back(tessera::RoutedReplica{
        .replica_id = "1-0", .address = "unix:" + socket,
        .load = std::make_shared<tessera::ReplicaLoad>()});
    // Every request is sampled into the payload log, so its encoder sees every body too.
    auto table = tessera::RoutingTableBuilder(1)
                     .AddEndpoint({.id = kEndpoint,
                                   .name = kEndpoint,
                                   .deployed_models = {dm},
                                   .traffic_split = {{"1", 100}},
                                   .payload_sampling_rate = 1})
                     .Build();
    Require(table.ok(), "routing table");
    routing.Publish(*table);
    auto service = serving::PredictionService::Create(
        {.routing = &routing, .random = &random, .request_timeout = absl::Seconds(30)});
    Require(service.ok(), "prediction service");
    predictions = std::move(*service);
    // Through the front door as serve registers them, with authentication off: the bodies are
    // the subject here (credentials have their own fuzzer).
    serving::SecuredRouter secured(router, door);
    auto counted = serving::PredictMetrics::Create(registry);
    Require(counted.ok(), "predict metrics");
    this->predict_metrics = std::move(*counted);
    auto logger =
        serving::PayloadLogger::Create({.dir = tessera::fuzz::ScratchDir() / "payload-logs",
                                        .max_file_bytes = 1 << 20,
                                        .max_files = 2});
    Require(logger.ok(), "payload logger");
    payloads = std::move(*logger);
    const serving::PredictRunner runner{
        .executor = &executor, .metrics = predict_metrics.get(), .payloads = payloads.get()};
    Require(serving::AddVertexPredictRoutes(secured, predictions.get(), runner).ok() &&
                serving::AddTfServingRoutes(secured, predictions.get(), &resolver, runner).ok() &&
                serving::AddKserveV2Routes(secured, predictions.get(), &resolver, runner).ok(),
            "routes");
  }

  std::unique_ptr<http::HttpServer> replica;
  tessera::RoutingTableHolder routing;
  tessera::SeededRandom random{1};
  std::unique_ptr<serving::PredictionService> predictions;
  tessera::metrics::MetricsRegistry registry;
  std::unique_ptr<serving::PredictMetrics> predict_metrics;
  std::unique_ptr<serving::PayloadLogger> payloads;
  serving::ModelResolver resolver{nullptr};
  serving::rest::BlockingExecutor executor{{.threads = 1, .max_queued = 4}};
  tessera::RealClock clock;
  serving::FrontDoor door{{.clock = &clock}};
  http::Router router;
};

http::HttpRequest RequestFor(const uint8_t* data, size_t size) {
  http::HttpRequest request;
  request.method = "POST";
  request.remote_address = "unix";
  request.headers.Set("Content-Type", "application/json");
  size_t skip = 1;
  switch (data[0] % 8) {
    case 0: request.target = std::string("/v1/") + kEndpoint + ":predict"; break;
    case 1:
      request.target = std::string("/v1/") + kEndpoint + ":predict";
      request.headers.Set(serving::kDeployedModelIdHeader, "1");
      break;
    case 2: request.target = std::string("/v1/") + kEndpoint + ":rawPredict"; break;
    case 3: request.target = "/v1/models/fashion:predict"; break;
    case 4: request.target = "/v1/models/Fashion/versions/1:predict"; break;
    case 5: request.target = "/v2/models/fashion/infer"; break;
    default:
      request.target = "/v2/models/fashion/versions/1/infer";
      if (size >= 3) {
        request.headers.Set("Inference-Header-Content-Length",
                            std::to_string(size_t{data[1]} | size_t{data[2]} << 8));
        skip = 3;
      }
      break;
  }
  request.path = request.target;
  request.body.assign(reinterpret_cast<const char*>(data) + skip, size - skip);
  return request;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static Harness* harness = new Harness();  // never destroyed: threads outlive main's return
  auto answered = std::make_shared<std::promise<http::HttpResponse>>();
  std::future<http::HttpResponse> response = answered->get_future();
  harness->router.Dispatch(RequestFor(data, size), http::Responder([answered](http::HttpResponse&& r) {
                             answered->set_value(std::move(r));
                           }));
  Require(response.wait_for(std::chrono::seconds(60)) == std::future_status::ready,
          "a request was never answered");
  const http::HttpResponse r = response.get();
  if (r.status >= 500) {
    std::fprintf(stderr, "HTTP %d: %s\n", r.status, r.body.c_str());
    Require(r.status != 500, "hostile input answered 500");
  }
  Require(!nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false).is_discarded(),
          "the answer is not JSON");
  return 0;
}
