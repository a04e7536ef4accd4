// Shared helpers of the HTTP server and client tests.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/http/http_client.h"
#include "common/http/http_server.h"
#include "gtest/gtest.h"

namespace tessera::http::testing {

// Polls `condition` every 2 ms until it holds (true) or `timeout` passes (false).
inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

// A fresh directory under /tmp (short: unix socket paths are limited to 107 bytes), removed at
// destruction.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/tessera-http-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline HttpServer::Options ServerOptions(Handler handler) {
  HttpServer::Options o;
  o.tcp_address = "127.0.0.1";
  o.tcp_port = 0;
  o.io_threads = 2;
  o.handler = std::move(handler);
  return o;
}

inline std::unique_ptr<HttpServer> StartServer(const HttpServer::Options& options) {
  auto server = HttpServer::Create(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

inline std::unique_ptr<HttpClient> ClientFor(const std::string& base_url) {
  HttpClient::Options o;
  o.base_url = base_url;
  auto client = HttpClient::Create(o);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

inline std::string TcpUrl(int port) { return "http://127.0.0.1:" + std::to_string(port); }

inline HttpRequest MakeRequest(std::string method, std::string target, std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

}  // namespace tessera::http::testing
