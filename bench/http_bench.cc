// Per-request cost of the HTTP transport (tessera_http): an HttpServer whose handler answers at
// once with a small body (like a prediction), driven by HttpClient threads over TCP or a unix
// socket, for several request body sizes (a b64 image is ~100-300 KB). Prints requests/s,
// request MB/s and latency percentiles. No engine involved: this is the overhead the serving
// path adds on top of it.
//
//   http_bench                         the default matrix
//   http_bench --body-bytes 150000 --transport unix --clients 4 --seconds 5
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/time/clock.h"
#include "common/http/http_client.h"
#include "common/http/http_server.h"

namespace tessera::http {
namespace {

struct Config {
  std::string transport = "tcp";
  size_t body_bytes = 150000;
  size_t response_bytes = 200;
  int clients = 2;
  int io_threads = 2;
  double seconds = 2;
};

int Run(const Config& config) {
  HttpServer::Options options;
  const std::string socket_path =
      (std::filesystem::temp_directory_path() / ("http_bench_" + std::to_string(::getpid())))
          .string();
  if (config.transport == "unix") {
    options.tcp_address = "";
    options.unix_socket_path = socket_path;
  }
  options.io_threads = config.io_threads;
  const std::string reply(config.response_bytes, 'r');
  options.handler = [&reply](HttpRequest&& request, Responder responder) {
    HttpResponse response;
    response.content_type = "application/json";
    response.body = request.body.empty() ? "" : reply;
    responder(std::move(response));
  };
  auto server = HttpServer::Create(options);
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  HttpClient::Options client_options;
  client_options.base_url = config.transport == "unix"
                                ? "unix:" + socket_path
                                : "http://127.0.0.1:" + std::to_string((*server)->port());
  auto client = HttpClient::Create(client_options);
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    return 1;
  }
  HttpRequest request;
  request.method = "POST";
  request.target = "/v1/projects/p/locations/l/endpoints/1:predict";
  request.headers.Add("Content-Type", "application/json");
  request.body.assign(config.body_bytes, 'b');

  std::atomic<bool> stop{false};
  std::atomic<int64_t> errors{0};
  std::vector<std::vector<double>> latencies_us(config.clients);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int c = 0; c < config.clients; ++c) {
    threads.emplace_back([&, c] {
      while (!stop.load(std::memory_order_relaxed)) {
        const absl::Time t0 = absl::Now();
        auto response = (*client)->Send(request, absl::Seconds(30));
        if (!response.ok() || response->status != 200) errors.fetch_add(1);
        latencies_us[c].push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      }
    });
  }
  absl::SleepFor(absl::Seconds(config.seconds));
  stop.store(true);
  for (std::thread& t : threads) t.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);

  std::vector<double> all;
  for (const auto& v : latencies_us) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  const double rps = static_cast<double>(all.size()) / elapsed;
  std::printf(
      "%-4s body %9zu B  clients %d  io_threads %d: %9.0f req/s  %8.1f MB/s in  p50 %7.0f us  "
      "p99 %7.0f us  errors %lld\n",
      config.transport.c_str(), config.body_bytes, config.clients, config.io_threads, rps,
      rps * static_cast<double>(config.body_bytes) / 1e6, pct(0.5), pct(0.99),
      static_cast<long long>(errors.load()));
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace tessera::http

int main(int argc, char** argv) {
  CLI::App app("HTTP transport micro-benchmark");
  tessera::http::Config config;
  bool matrix = true;
  app.add_option("--transport", config.transport, "tcp or unix")
      ->check(CLI::IsMember({"tcp", "unix"}))
      ->each([&](const std::string&) { matrix = false; });
  app.add_option("--body-bytes", config.body_bytes, "request body size")
      ->each([&](const std::string&) { matrix = false; });
  app.add_option("--response-bytes", config.response_bytes, "response body size");
  app.add_option("--clients", config.clients, "client threads")->check(CLI::PositiveNumber);
  app.add_option("--io-threads", config.io_threads, "server io threads")
      ->check(CLI::PositiveNumber);
  app.add_option("--seconds", config.seconds, "duration of each run")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (!matrix) return tessera::http::Run(config);
  int rc = 0;
  for (const char* transport : {"tcp", "unix"}) {
    for (const size_t body : {size_t{100}, size_t{150000}, size_t{4000000}}) {
      tessera::http::Config c = config;
      c.transport = transport;
      c.body_bytes = body;
      rc |= tessera::http::Run(c);
    }
  }
  return rc;
}
