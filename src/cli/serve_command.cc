#include "cli/serve_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_join.h"
#include "auth/api_key_secret.h"
#include "cli/access_wiring.h"
#include "cli/data_plane_wiring.h"
#include "cli/engine_artifact_validator.h"
#include "cli/environment.h"
#include "cli/process_limits.h"
#include "common/clock.h"
#include "common/http/http_server.h"
#include "common/http/router.h"
#include "common/http/url.h"
#include "common/logging.h"
#include "common/metrics/metrics.h"
#include "common/status_macros.h"
#include "common/tracing/span_exporter.h"
#include "control/endpoint_service.h"
#include "engine/image_classifier.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "registry/artifact_store.h"
#include "registry/http_artifact_fetcher.h"
#include "registry/model_service.h"
#include "registry/operation_service.h"
#include "registry/sqlite/sqlite_metadata_store.h"
#include "serving/front_door/error_shape.h"
#include "serving/front_door/secured_router.h"
#include "serving/grpc/kserve_grpc_server.h"
#include "serving/observability/logging_routes.h"
#include "serving/observability/metrics_routes.h"
#include "serving/observability/time_series.h"
#include "serving/rest/admin_api.h"
#include "serving/rest/control_plane_api.h"
#include "spdlog/spdlog.h"

namespace tessera::cli {
namespace {

// How long in-flight requests may take to finish at shutdown.
constexpr absl::Duration kDrainTimeout = absl::Seconds(10);

// Holds an advisory lock on DATA_DIR/serve.lock for the process lifetime, so two servers never
// share one data dir (SQLite would cope; the artifact sweep and the replicas would not).
class DataDirLock {
 public:
  static absl::StatusOr<std::unique_ptr<DataDirLock>> Acquire(const std::filesystem::path& dir) {
    const std::filesystem::path path = dir / "serve.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::PermissionDeniedError(
          fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return absl::FailedPreconditionError(
          fmt::format("another `tessera serve` is using the data dir {} (lock {} is held)",
                      dir.string(), path.string()));
    }
    return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
  }
  ~DataDirLock() { ::close(fd_); }

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

std::string UrlHost(const std::string& host) {
  return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

// tessera_build_info: the version, and what the host's engine runs natively.
absl::Status AddInfoMetric(metrics::MetricsRegistry& registry, const control::HostResources& host) {
  ASSIGN_OR_RETURN(metrics::GaugeFamily * info,
                   registry.AddGauge("tessera_build_info",
                                     "Always 1; labels: the version, the host's instruction set "
                                     "and the precisions it runs natively.",
                                     {"version", "isa", "precisions"}));
  info->With({TESSERA_VERSION, host.isa, absl::StrJoin(host.native_precisions, ",")})->Set(1);
  return absl::OkStatus();
}

bool IsLoopback(const std::string& host) { return host.starts_with("127.") || host == "::1"; }

absl::StatusOr<std::string> ReadPemFile(const std::string& path, std::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(fmt::format("{} {}: cannot read it", flag, path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The route table as `serve --list-routes` prints it (the auth matrix test reads it).
std::string RoutesJson(const http::Router& router, const serving::SecuredRouter& secured) {
  nlohmann::json routes = nlohmann::json::array();
  for (const serving::SecuredRouter::Entry& e : secured.routes()) {
    routes.push_back(
        {{"protocol", "http"},
         {"method", e.method},
         {"pattern", e.pattern},
         {"action", std::string(auth::ActionName(e.access.action))},
         {"scope", std::string(serving::ScopeName(e.access.scope))},
         {"errors", e.access.errors == serving::ErrorShape::kGoogle ? "google" : "plain"}});
  }
  for (const http::Router::RouteEntry& e : serving::UnguardedRoutes(router, secured)) {
    routes.push_back({{"method", e.method}, {"pattern", e.pattern}, {"action", nullptr}});
  }
  // The gRPC methods (KServe v2), checked by the same front door.
  for (const serving::KserveGrpcServer::MethodAccess& m : serving::KserveGrpcServer::Methods()) {
    routes.push_back({{"protocol", "grpc"},
                      {"method", m.method},
                      {"pattern", serving::KserveGrpcServer::ServiceName() + "/" + m.method},
                      {"action", std::string(auth::ActionName(m.access.action))},
                      {"scope", std::string(serving::ScopeName(m.access.scope))}});
  }
  return routes.dump(1);
}

// Everything one server owns, declared in construction order so destruction runs in reverse
// (the server and API go first, the store last).
struct Server {
  RealClock clock;
  metrics::MetricsRegistry metrics;  // before everything that reports to it
  std::unique_ptr<tracing::OtlpHttpExporter> spans;  // --otlp-endpoint; outlives the data plane
  std::unique_ptr<serving::PayloadLogger> payloads;  // outlives the data plane too
  std::unique_ptr<DataDirLock> lock;
  std::unique_ptr<registry::sqlite::SqliteMetadataStore> store;
  std::unique_ptr<registry::ArtifactStore> artifacts;
  std::unique_ptr<registry::OperationService> operations;
  std::unique_ptr<registry::HttpArtifactFetcher> fetcher;
  EngineArtifactValidator validator;  // the engine's checks, without loading weights
  std::unique_ptr<registry::ModelService> models;
  DataPlaneDeps deps{};
  std::unique_ptr<DataPlane> data_plane;
  std::unique_ptr<Access> access;
  std::unique_ptr<control::EndpointService> endpoints;
  std::unique_ptr<serving::rest::ControlPlaneApi> api;
  std::unique_ptr<serving::rest::AdminApi> admin;
  std::shared_ptr<http::Router> router;
  std::unique_ptr<serving::SecuredRouter> secured;
  std::unique_ptr<http::HttpServer> http;
  std::unique_ptr<serving::TimeSeriesRecorder> time_series;
  std::unique_ptr<http::HttpServer> metrics_http;  // --metrics-listen

  ~Server() {
    // Stop taking requests first, then the data plane (drains replicas), then the services.
    if (api) api->BeginShutdown();
    if (metrics_http) metrics_http->Shutdown(absl::ZeroDuration());
    if (time_series) time_series->Stop();
    if (http) http->Shutdown(kDrainTimeout);
    if (data_plane) data_plane->Stop();
    http.reset();
    secured.reset();
    router.reset();
    admin.reset();
    api.reset();
    endpoints.reset();
    data_plane.reset();
    // Their threads finish writing while the data dir is still locked (lock goes last).
    payloads.reset();
    spans.reset();
    models.reset();
    access.reset();
  }
};

// Builds every service and registers every route; nothing listens yet.
absl::StatusOr<std::unique_ptr<Server>> BuildServer(const ServeOptions& options,
                                                    const std::filesystem::path& data_dir) {
  auto s = std::make_unique<Server>();
  ASSIGN_OR_RETURN(s->lock, DataDirLock::Acquire(data_dir));
  ASSIGN_OR_RETURN(s->store,
                   registry::sqlite::SqliteMetadataStore::Open({.path = data_dir / "tessera.db"}));
  ASSIGN_OR_RETURN(s->access, CreateAccess({.auth_enabled = options.auth != "none",
                                            .data_dir = data_dir,
                                            .audit_log = options.audit_log,
                                            .audit_log_max_bytes = options.audit_log_max_bytes,
                                            .audit_log_files = options.audit_log_files,
                                            .reset_admin_key = options.reset_admin_key,
                                            .metrics = &s->metrics},
                                           s->store.get(), &s->clock));
  ASSIGN_OR_RETURN(s->artifacts, registry::ArtifactStore::Create(
                                     {.data_dir = data_dir,
                                      .max_file_bytes = options.max_artifact_bytes,
                                      .max_total_bytes = options.max_artifact_bytes,
                                      .min_free_bytes = options.min_free_disk_bytes}));
  // Fails the operations the previous run left unfinished.
  ASSIGN_OR_RETURN(s->operations, registry::OperationService::Create(
                                      {.store = s->store.get(), .clock = &s->clock}));
  ASSIGN_OR_RETURN(s->fetcher, registry::HttpArtifactFetcher::Create(
                                   {.allow_private_hosts = options.allow_private_artifact_hosts}));
  registry::ModelService::Options model_options;
  model_options.store = s->store.get();
  model_options.artifacts = s->artifacts.get();
  model_options.operations = s->operations.get();
  model_options.validator = &s->validator;
  model_options.clock = &s->clock;
  model_options.source.allowed_roots = options.allowed_artifact_roots;
  model_options.source.denied_roots = {data_dir};
  model_options.source.fetcher = s->fetcher.get();
  model_options.source.limits.max_file_bytes = options.max_artifact_bytes;
  model_options.source.limits.max_total_bytes = options.max_artifact_bytes;
  // Sweeps the artifact store (files of interrupted uploads).
  ASSIGN_OR_RETURN(s->models, registry::ModelService::Create(model_options));

  s->deps.models = s->models.get();
  s->deps.endpoints = nullptr;  // set below, before Start()
  s->deps.data_dir = data_dir;
  s->deps.self_binary = options.self_binary;
  s->deps.grpc_listen = options.grpc_listen;
  s->deps.grpc_handshake_timeout = absl::Seconds(options.header_timeout_s);
  s->deps.predict_timeout = absl::Seconds(options.predict_timeout_s);
  s->deps.predict_threads = options.predict_threads;
  s->deps.max_queued_predicts = options.max_queued_predicts;
  s->deps.door = s->access->door.get();
  s->deps.endpoint_limits = s->access->endpoint_limits.get();
  s->deps.metrics = &s->metrics;
  s->deps.log_format = options.log_format;
  s->deps.log_level = options.log_level;
  ASSIGN_OR_RETURN(metrics::CounterFamily * payload_records,
                   s->metrics.AddCounter("tessera_payload_log_records_total",
                                         "Sampled request/response pairs written to the payload "
                                         "logs, or dropped (queue full, disk error).",
                                         {"result"}));
  ASSIGN_OR_RETURN(s->payloads, serving::PayloadLogger::Create(
                                    {.dir = data_dir / "payload-logs",
                                     .max_file_bytes = options.payload_log_max_file_bytes,
                                     .max_files = options.payload_log_max_files,
                                     .counter = payload_records}));
  s->deps.payloads = s->payloads.get();
  if (!options.otlp_endpoint.empty()) {
    ASSIGN_OR_RETURN(s->spans,
                     tracing::OtlpHttpExporter::Create({.endpoint = options.otlp_endpoint}));
    s->deps.spans = s->spans.get();
  }
  if (!options.tls_cert_file.empty()) {
    ASSIGN_OR_RETURN(s->deps.grpc_tls_certificate_chain,
                     ReadPemFile(options.tls_cert_file, "--tls-cert"));
    ASSIGN_OR_RETURN(s->deps.grpc_tls_private_key, ReadPemFile(options.tls_key_file, "--tls-key"));
  }
  ASSIGN_OR_RETURN(s->data_plane, CreateDataPlane(s->deps));
  // What deploy admits: the host's memory and CPUs, and the precisions its engine runs natively.
  control::HostResources host = control::HostResources::Detect();
  const engine::HostSupport engine_support = engine::DetectHostSupport();
  host.isa = engine_support.isa;
  host.native_precisions = engine_support.precisions;
  spdlog::info("engine: instruction set {}; precisions {}", host.isa,
               absl::StrJoin(host.native_precisions, ", "));
  RETURN_IF_ERROR(AddInfoMetric(s->metrics, host));
  // Rolls back deployments the previous run left half-way.
  ASSIGN_OR_RETURN(s->endpoints,
                   control::EndpointService::Create({.store = s->store.get(),
                                                     .operations = s->operations.get(),
                                                     .waiter = s->data_plane->waiter(),
                                                     .clock = &s->clock,
                                                     .host = host}));
  s->deps.endpoints = s->endpoints.get();

  ASSIGN_OR_RETURN(
      s->api, serving::rest::ControlPlaneApi::Create({.models = s->models.get(),
                                                      .operations = s->operations.get(),
                                                      .endpoints = s->endpoints.get(),
                                                      .handler_threads = options.handler_threads}));
  ASSIGN_OR_RETURN(s->admin, serving::rest::AdminApi::Create(
                                 {.keys = s->access->keys.get(), .endpoints = s->endpoints.get()}));
  s->router = std::make_shared<http::Router>();
  s->secured = std::make_unique<serving::SecuredRouter>(*s->router, *s->access->door);
  RETURN_IF_ERROR(s->api->AddRoutes(*s->secured));
  RETURN_IF_ERROR(s->admin->AddRoutes(*s->secured));
  RETURN_IF_ERROR(s->data_plane->AddRoutes(*s->secured));
  RETURN_IF_ERROR(serving::AddMetricsRoute(*s->secured, &s->metrics));
  RETURN_IF_ERROR(serving::AddLoggingRoutes(*s->secured));
  DataPlane* data_plane = s->data_plane.get();
  ASSIGN_OR_RETURN(
      s->time_series,
      serving::TimeSeriesRecorder::Create(
          {.registry = &s->metrics,
           .resolution = absl::Milliseconds(EnvNumber("TESSERA_TIME_SERIES_RESOLUTION_MS", 10000)),
           .before_record = [data_plane] { data_plane->RetainLiveSeries(); }}));
  RETURN_IF_ERROR(serving::AddTimeSeriesRoute(
      *s->secured, s->time_series.get(), [data_plane](const std::string& name) {
        // From the routing table, not the database: the route answers on an io thread.
        return data_plane->Routes(name)
                   ? absl::OkStatus()
                   : absl::NotFoundError(fmt::format("Endpoint {} not found.", name));
      }));
  return s;
}

// The API listener's own counters: connections, and what it refused before any route ran (too
// many connections, the request-body budget full), which is load shedding too.
void AddHttpServerMetrics(metrics::MetricsRegistry& registry, const http::HttpServer* server) {
  registry.AddCollector([server](std::vector<metrics::FamilySnapshot>& out) {
    const http::HttpServer::Stats stats = server->stats();
    using metrics::MetricType;
    using metrics::Sample;
    out.push_back({.name = "tessera_http_connections",
                   .help = "Open connections of the API listener.",
                   .type = MetricType::kGauge,
                   .samples = {Sample{.value = static_cast<double>(stats.connections_active)}}});
    out.push_back({.name = "tessera_http_requests_total",
                   .help = "Requests of the API listener that reached a route.",
                   .type = MetricType::kCounter,
                   .samples = {Sample{.value = static_cast<double>(stats.requests)}}});
    out.push_back({.name = "tessera_load_shed_requests_total",
                   .type = MetricType::kCounter,
                   .samples = {Sample{.labels = {{"reason", "connection_limit"}},
                                      .value = static_cast<double>(stats.connections_refused)},
                               Sample{.labels = {{"reason", "request_body_budget"}},
                                      .value = static_cast<double>(stats.refused_body_bytes)}}});
  });
}

// What the OTLP exporter delivered and lost.
void AddSpanMetrics(metrics::MetricsRegistry& registry, const tracing::OtlpHttpExporter* spans) {
  registry.AddCollector([spans](std::vector<metrics::FamilySnapshot>& out) {
    out.push_back(
        {.name = "tessera_spans_total",
         .help = "Spans sent to the OTLP collector, or dropped (queue full, collector refused).",
         .type = metrics::MetricType::kCounter,
         .samples = {metrics::Sample{.labels = {{"result", "exported"}},
                                     .value = static_cast<double>(spans->exported())},
                     metrics::Sample{.labels = {{"result", "dropped"}},
                                     .value = static_cast<double>(spans->dropped())}}});
  });
}

// A listener with GET /metrics only, no key: for a scraper on a network the operator trusts.
absl::StatusOr<std::unique_ptr<http::HttpServer>> StartMetricsListener(
    const std::string& address, const metrics::MetricsRegistry* registry) {
  ASSIGN_OR_RETURN(http::HostPort listen, http::ParseHostPort(address));
  auto router = std::make_shared<http::Router>();
  RETURN_IF_ERROR(router->AddSync("GET", serving::kMetricsPath, serving::MetricsHandler(registry)));
  http::HttpServer::Options server_options;
  server_options.tcp_address = listen.host;
  server_options.tcp_port = listen.port;
  server_options.io_threads = 1;
  server_options.max_body_bytes = 1024;  // GET only: a body is refused as too large
  server_options.max_connections = 64;
  server_options.handler = http::Router::AsHandler(router);
  return http::HttpServer::Create(server_options);
}

// Starts the data plane and listens.
absl::Status StartServer(Server& server, const ServeOptions& options) {
  Server* s = &server;
  ASSIGN_OR_RETURN(http::HostPort listen, http::ParseHostPort(options.listen));
  // Fail closed: a route that bypassed the front door would be open to anyone.
  if (const auto unguarded = serving::UnguardedRoutes(*s->router, *s->secured);
      !unguarded.empty()) {
    return absl::InternalError(
        fmt::format("route {} {} was registered without an access rule (serving/front_door/"
                    "secured_router.h); refusing to start",
                    unguarded.front().method, unguarded.front().pattern));
  }
  RETURN_IF_ERROR(s->data_plane->Start());

  http::HttpServer::Options server_options;
  server_options.tcp_address = listen.host;
  server_options.tcp_port = listen.port;
  server_options.tls_certificate_file = options.tls_cert_file;
  server_options.tls_private_key_file = options.tls_key_file;
  server_options.io_threads = options.io_threads;
  server_options.max_body_bytes = options.max_request_bytes;
  server_options.header_timeout = absl::Seconds(options.header_timeout_s);
  server_options.body_timeout = absl::Seconds(options.body_timeout_s);
  server_options.max_connections = options.max_connections;
  server_options.max_connections_per_peer = options.max_connections_per_peer;
  server_options.max_in_flight_body_bytes =
      options.max_in_flight_request_bytes > 0
          ? options.max_in_flight_request_bytes
          : DefaultInFlightRequestBytes(options.max_request_bytes);
  server_options.refusal_response = [](std::string_view target, const absl::Status& status) {
    http::HttpResponse response = serving::ErrorResponseForTarget(target, status);
    if (absl::IsUnauthenticated(status)) {
      response.headers.Set("WWW-Authenticate", "Bearer realm=\"tessera\"");
    }
    return response;
  };
  if (s->access->door->auth_enabled()) {
    // A request with a body is refused before its body is read when its key is missing, not
    // valid, or may not make the call.
    const serving::SecuredRouter* secured = s->secured.get();
    server_options.admit_body = [secured](const http::HeaderView& h) {
      return secured->AdmitBody(h);
    };
  }
  server_options.redact_target = [](std::string_view target) { return auth::RedactKeys(target); };
  spdlog::info("admission: at most {} MiB of request bodies in flight; predict timeout {}s",
               server_options.max_in_flight_body_bytes >> 20, options.predict_timeout_s);
  server_options.handler = http::Router::AsHandler(s->router);
  server_options.access_log = options.access_log;
  ASSIGN_OR_RETURN(s->http, http::HttpServer::Create(server_options));
  AddHttpServerMetrics(s->metrics, s->http.get());
  if (s->spans != nullptr) AddSpanMetrics(s->metrics, s->spans.get());
  if (!options.metrics_listen.empty()) {
    ASSIGN_OR_RETURN(s->metrics_http, StartMetricsListener(options.metrics_listen, &s->metrics));
  }
  s->time_series->Start();
  if (s->access->keys != nullptr && options.tls_cert_file.empty()) {
    for (const std::string& address : {options.listen, options.grpc_listen}) {
      absl::StatusOr<http::HostPort> hp = http::ParseHostPort(address);
      if (!address.empty() && hp.ok() && !IsLoopback(hp->host)) {
        spdlog::warn(
            "{} is not a loopback address and has no TLS: API keys cross the network in "
            "clear text; give --tls-cert and --tls-key",
            address);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

int64_t DefaultInFlightRequestBytes(size_t max_request_bytes) {
  constexpr int64_t kCap = int64_t{4} << 30;
  const int64_t physical = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) *
                           static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
  const int64_t eighth = physical > 0 ? physical / 8 : kCap;
  return std::max(std::min(eighth, kCap), static_cast<int64_t>(max_request_bytes));
}

std::filesystem::path DefaultDataDir() {
  if (const char* dir = std::getenv("TESSERA_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "tessera";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr && *home != '\0' ? home : ".") / ".local" / "share" /
         "tessera";
}

absl::Status RunServe(const ServeOptions& options) {
  // Block the shutdown signals before any thread starts: every thread inherits the mask, and
  // this thread collects them with sigwait (no async-signal-safety concerns).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {
    return absl::InternalError("cannot block SIGINT/SIGTERM");
  }
  ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server

  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (options.auth != "api-key" && options.auth != "none") {
    return absl::InvalidArgumentError(
        fmt::format("--auth={} is not one of api-key, none", options.auth));
  }
  std::error_code ec;
  if (options.list_routes) {
    // Built on a scratch data dir: listing routes must not create keys, run migrations or roll
    // back deployments in a real one.
    char scratch_template[] = "/tmp/tessera-list-routes-XXXXXX";
    const char* scratch = ::mkdtemp(scratch_template);
    if (scratch == nullptr) return absl::InternalError("cannot create a scratch data dir");
    absl::StatusOr<std::unique_ptr<Server>> server = BuildServer(options, scratch);
    std::string routes;
    if (server.ok()) {
      routes = RoutesJson(*(*server)->router, *(*server)->secured);
      server->reset();
    }
    std::filesystem::remove_all(scratch, ec);
    if (!server.ok()) return server.status();
    std::printf("%s\n", routes.c_str());
    return absl::OkStatus();
  }

  std::filesystem::path data_dir = options.data_dir.empty() ? DefaultDataDir() : options.data_dir;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        fmt::format("cannot create the data dir {}: {}", data_dir.string(), ec.message()));
  }
  data_dir = std::filesystem::absolute(data_dir).lexically_normal();
  RETURN_IF_ERROR(RestrictDataDir(data_dir));
  RaiseOpenFileLimit();
  for (const auto& root : options.allowed_artifact_roots) {
    if (!std::filesystem::is_directory(root)) {
      return absl::InvalidArgumentError(
          fmt::format("--allowed-artifact-root {} is not a folder", root.string()));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Server> server, BuildServer(options, data_dir));
  RETURN_IF_ERROR(StartServer(*server, options));
  ASSIGN_OR_RETURN(http::HostPort listen, http::ParseHostPort(options.listen));
  std::printf("tessera serving on %s://%s:%d (data dir %s)\n",
              options.tls_cert_file.empty() ? "http" : "https", UrlHost(listen.host).c_str(),
              server->http->port(), data_dir.c_str());
  if (!options.grpc_listen.empty()) {
    ASSIGN_OR_RETURN(http::HostPort grpc, http::ParseHostPort(options.grpc_listen));
    std::printf("tessera KServe v2 gRPC on %s:%d\n", UrlHost(grpc.host).c_str(),
                server->data_plane->grpc_port());
  }
  if (!options.metrics_listen.empty()) {
    ASSIGN_OR_RETURN(http::HostPort metrics_listen, http::ParseHostPort(options.metrics_listen));
    std::printf("tessera metrics on http://%s:%d/metrics\n", UrlHost(metrics_listen.host).c_str(),
                server->metrics_http->port());
  }
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("received {}; shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  server.reset();
  spdlog::info("stopped");
  return absl::OkStatus();
}

void AddServeCommand(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto allowed_roots = std::make_shared<std::vector<std::string>>();
  auto max_request_mib = std::make_shared<size_t>(64);
  auto payload_log_max_file_mib = std::make_shared<int64_t>(64);
  auto max_artifact_gib = std::make_shared<double>(64);
  auto min_free_disk_gib = std::make_shared<double>(-1);
  auto max_in_flight_mib = std::make_shared<int64_t>(0);
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run the Tessera server: Vertex AI-compatible REST API for models and endpoints");
  cmd->add_option("--data-dir", options->data_dir,
                  "Metadata and artifacts (default $TESSERA_DATA_DIR or ~/.local/share/tessera)");
  cmd->add_option("--listen", options->listen, "ADDR:PORT to listen on (port 0 picks one)")
      ->capture_default_str();
  cmd->add_option("--metrics-listen", options->metrics_listen,
                  "ADDR:PORT serving GET /metrics without a key (for Prometheus on a private "
                  "network); without it /metrics is on --listen, for keys for every project");
  cmd->add_option("--payload-log-max-file-mib", *payload_log_max_file_mib,
                  "request/response logs: an endpoint's file rotates at this size")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--payload-log-max-files", options->payload_log_max_files,
                  "request/response logs: files kept per endpoint (the disk cap is this times the "
                  "file size)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--otlp-endpoint", options->otlp_endpoint,
                  "OpenTelemetry collector (OTLP/HTTP, e.g. http://127.0.0.1:4318): predict "
                  "spans are exported to <it>/v1/traces");
  cmd->add_option("--grpc-listen", options->grpc_listen,
                  "ADDR:PORT for the KServe v2 gRPC API (port 0 picks one; default: off)");
  cmd->add_option("--allowed-artifact-root", *allowed_roots,
                  "Local artifactUri paths must be under one of these folders (repeatable; "
                  "default: any path the server can read)");
  cmd->add_flag("--allow-private-artifact-hosts", options->allow_private_artifact_hosts,
                "http(s) artifactUri downloads may reach loopback and private addresses "
                "(127/8, 10/8, 172.16/12, 192.168/16, 100.64/10, 0/8, ::1, fc00::/7); link-local "
                "and metadata addresses (169.254/16, fe80::/10, fd00:ec2::254) stay refused");
  cmd->add_option("--max-artifact-gib", *max_artifact_gib,
                  "Largest model artifact (any one file, and an archive's contents), in GiB; "
                  "larger uploads fail with INVALID_ARGUMENT before they are copied")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--min-free-disk-gib", *min_free_disk_gib,
                  "Free space the data dir's filesystem keeps, in GiB: uploads that would leave "
                  "less fail with RESOURCE_EXHAUSTED before writing (default: 5% of the "
                  "filesystem, at least 1, at most 16)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--io-threads", options->io_threads, "HTTP io threads")->capture_default_str();
  cmd->add_option("--handler-threads", options->handler_threads,
                  "Threads for control-plane requests")
      ->capture_default_str();
  cmd->add_option("--max-request-mib", *max_request_mib, "Largest request body, in MiB")
      ->capture_default_str();
  cmd->add_option("--header-timeout-s", options->header_timeout_s,
                  "Seconds a request's header may take from its first byte, and a TLS or gRPC "
                  "handshake from the connection (slow clients are cut off)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--body-timeout-s", options->body_timeout_s,
                  "Seconds a request's body may take after its header")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-connections", options->max_connections,
                  "Open client connections; more are answered 503 and closed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-connections-per-peer", options->max_connections_per_peer,
                  "Open connections from one client IP address; more are answered 503 and closed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-inflight-request-mib", *max_in_flight_mib,
                  "Most MiB of request bodies read and not yet answered, all requests together; "
                  "beyond it requests get 429 with Retry-After (0: 1/8 of physical memory, at "
                  "most 4096)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--predict-timeout-s", options->predict_timeout_s,
                  "Longest a predict may take; an endpoint's clientConnectionConfig."
                  "inferenceTimeout and a client's X-Server-Timeout header may ask for less")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  cmd->add_option("--predict-threads", options->predict_threads,
                  "Threads forwarding predicts to replicas, each waiting on one replica call; "
                  "enough to fill the replicas' queues, so that their queues decide admission")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--max-queued-predicts", options->max_queued_predicts,
                  "Predicts waiting for a forwarding thread; beyond it 429 with Retry-After at once")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--log-format", options->log_format,
                  "text, or json: one JSON object per line (replicas log the same way)")
      ->capture_default_str();
  cmd->add_option("--access-log", options->access_log,
                  "one info line per answered request (method, path, status, bytes, duration, "
                  "request id); false: at debug level")
      ->capture_default_str();
  cmd->add_option("--log-level", options->log_level, "debug, info, warn or error")
      ->capture_default_str();
  cmd->add_option("--auth", options->auth,
                  "api-key: every route but the health probes needs an API key (the first start "
                  "writes an admin key to DATA_DIR/admin.key); none: no authentication, every "
                  "caller an admin (local development only)")
      ->check(CLI::IsMember({"api-key", "none"}))
      ->capture_default_str();
  cmd->add_option("--tls-cert", options->tls_cert_file,
                  "PEM certificate chain: the REST and gRPC listeners speak TLS only");
  cmd->add_option("--tls-key", options->tls_key_file, "PEM private key of --tls-cert");
  auto audit_log = std::make_shared<std::string>();
  auto audit_log_max_mib = std::make_shared<int64_t>(64);
  cmd->add_option("--audit-log", *audit_log,
                  "JSON-lines audit log of mutations and refused credentials (default "
                  "DATA_DIR/audit/audit.jsonl)");
  cmd->add_option("--audit-log-max-mib", *audit_log_max_mib,
                  "Size at which the audit log is rotated, in MiB")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--audit-log-files", options->audit_log_files,
                  "Rotated audit logs kept (audit.jsonl.1 ... .N)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_flag("--reset-admin-key", options->reset_admin_key,
                "Write a new admin key for every project to DATA_DIR/admin.key at start (for an "
                "operator who lost it; older keys stay valid until revoked)");
  cmd->add_flag("--list-routes", options->list_routes,
                "Print every route with its access rule as JSON and exit without listening (the "
                "data dir is not touched)");
  cmd->callback([options, allowed_roots, max_request_mib, max_artifact_gib, min_free_disk_gib,
                 max_in_flight_mib, audit_log, audit_log_max_mib, payload_log_max_file_mib] {
    options->payload_log_max_file_bytes = *payload_log_max_file_mib << 20;
    options->audit_log = *audit_log;
    options->audit_log_max_bytes = *audit_log_max_mib << 20;
    absl::StatusOr<LogFormat> format = ParseLogFormat(options->log_format);
    if (absl::Status s =
            format.ok() ? InitLogging("serve", options->log_level, *format) : format.status();
        !s.ok()) {
      std::fprintf(stderr, "tessera serve: %s\n", std::string(s.message()).c_str());
      std::exit(2);
    }
    for (const std::string& root : *allowed_roots) {
      options->allowed_artifact_roots.push_back(std::filesystem::absolute(root));
    }
    options->max_request_bytes = *max_request_mib << 20;
    constexpr double kGiB = double(int64_t{1} << 30);
    options->max_artifact_bytes =
        static_cast<int64_t>(std::min(*max_artifact_gib, double(int64_t{1} << 32)) * kGiB);
    options->min_free_disk_bytes =
        *min_free_disk_gib < 0
            ? -1
            : static_cast<int64_t>(std::min(*min_free_disk_gib, double(int64_t{1} << 32)) * kGiB);
    options->max_in_flight_request_bytes = *max_in_flight_mib << 20;
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    options->self_binary = ec ? std::string() : self.string();
    absl::Status status = RunServe(*options);
    if (!status.ok()) {
      std::fprintf(stderr, "tessera serve: %s\n", std::string(status.message()).c_str());
      std::exit(1);
    }
  });
}

}  // namespace tessera::cli
