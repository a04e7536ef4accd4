// `tessera serve [--data-dir DIR] [--listen ADDR:PORT] [--allowed-artifact-root DIR]...`: the one
// process a user starts. Wires the control plane (SQLite metadata, artifact store, operations,
// models, endpoints, REST API), access (API keys, the front door: cli/access_wiring.h), the admin
// API, the data plane (cli/data_plane_wiring.h) and one HTTP server; prints `tessera serving on
// http(s)://HOST:PORT (data dir DIR)` once listening (with port 0, the port chosen), then runs
// until SIGINT or SIGTERM and shuts down cleanly (exit status 0). Every route is registered
// through the front door with its access rule; a route without one stops the start.
//
// Startup recovery happens in the services' Create(): unfinished operations of the previous run
// end failed (UNAVAILABLE, "interrupted by a server restart"), DEPLOYING/UNDEPLOYING deployments
// are rolled back, the artifact store is swept. A second `serve` on the same data dir is refused
// (an advisory lock on DATA_DIR/serve.lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace tessera::cli {

struct ServeOptions {
  std::filesystem::path data_dir;  // empty: DefaultDataDir()
  std::string listen = "127.0.0.1:8080";
  std::string grpc_listen;  // KServe v2 gRPC ADDR:PORT; empty: off
  // GET /metrics without a key on a listener of its own (ADDR:PORT); empty: off (/metrics is
  // then served on --listen only, to keys for every project).
  std::string metrics_listen;
  // OTLP/HTTP collector ("http://127.0.0.1:4318"): predict spans are exported there; empty: off.
  std::string otlp_endpoint;
  // Request/response logging (DATA_DIR/payload-logs): each endpoint's files rotate at this size,
  // and it keeps at most this many.
  int64_t payload_log_max_file_bytes = int64_t{64} << 20;
  int payload_log_max_files = 8;
  // Local artifactUri paths must lie under one of these; empty allows any readable path.
  std::vector<std::filesystem::path> allowed_artifact_roots;
  // http(s) artifactUri downloads may reach loopback and private addresses (never link-local
  // or metadata ones).
  bool allow_private_artifact_hosts = false;
  // One artifact's size cap (every file, and the archive's contents); refused with
  // INVALID_ARGUMENT above it.
  int64_t max_artifact_bytes = int64_t{64} << 30;
  // Bytes the data dir's filesystem keeps free (uploads that would leave less fail with
  // RESOURCE_EXHAUSTED); negative: registry::DefaultMinFreeBytes of the filesystem's size.
  int64_t min_free_disk_bytes = -1;
  int io_threads = 2;
  int handler_threads = 8;
  size_t max_request_bytes = size_t{64} << 20;
  // Slow and greedy clients (common/http/http_server.h): a request's header must arrive within
  // header_timeout_s of its first byte, its body within body_timeout_s of the header's end;
  // connections beyond max_connections, or beyond max_connections_per_peer from one IP address,
  // are answered 503 and closed.
  double header_timeout_s = 10;
  double body_timeout_s = 30;
  int max_connections = 10000;
  int max_connections_per_peer = 256;
  // Bytes of request bodies read and not yet answered, all requests together (HttpServer's
  // max_in_flight_body_bytes); 0: DefaultInFlightRequestBytes().
  int64_t max_in_flight_request_bytes = 0;
  // The longest any predict may take (clients and endpoints may ask for less).
  double predict_timeout_s = 60;
  // DataPlaneDeps::predict_threads / max_queued_predicts.
  int predict_threads = 128;
  int max_queued_predicts = 128;
  std::string log_level = "info";   // at start; PUT /v1/logging changes it while running
  std::string log_format = "text";  // or "json"
  bool access_log = true;
  std::string self_binary;  // the tessera binary (argv[0] resolved)

  // Access (docs/security.md): "api-key" (default) or "none" (local development only).
  std::string auth = "api-key";
  // TLS for the REST and gRPC listeners: PEM certificate chain and private key (both or none).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::filesystem::path audit_log;  // empty: DATA_DIR/audit/audit.jsonl
  int64_t audit_log_max_bytes = int64_t{64} << 20;
  int audit_log_files = 5;
  bool reset_admin_key = false;
  // Print every route with its access rule as JSON and exit, without listening.
  bool list_routes = false;
};

// 1/8 of the host's physical memory, at most 4 GiB, at least max_request_bytes: what the request
// bodies in flight may hold by default.
int64_t DefaultInFlightRequestBytes(size_t max_request_bytes);

// $TESSERA_DATA_DIR, else $XDG_DATA_HOME/tessera, else ~/.local/share/tessera.
std::filesystem::path DefaultDataDir();

// Runs the server until SIGINT/SIGTERM. Must be called before the process starts any thread
// (it blocks those signals so every thread inherits the mask and one thread waits for them).
absl::Status RunServe(const ServeOptions& options);

// Registers the subcommand on `app`.
void AddServeCommand(CLI::App& app);

}  // namespace tessera::cli
