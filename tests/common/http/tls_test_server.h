// A minimal HTTPS server for client tests: a self-signed certificate for "localhost" and
// 127.0.0.1 made at start-up (no files checked in), one connection at a time, answering every
// request with a fixed body. Plain OpenSSL on blocking sockets.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

namespace tessera::http::testing {

class TlsTestServer {
 public:
  // Writes the certificate (PEM) to `cert_path` so clients can trust it. `subject_alt_names` in
  // OpenSSL's config syntax.
  TlsTestServer(const std::filesystem::path& cert_path, std::string body,
                const std::string& subject_alt_names = "DNS:localhost,IP:127.0.0.1");
  ~TlsTestServer();
  bool ok() const { return ok_; }
  int port() const { return port_; }

 private:
  void Serve();

  bool ok_ = false;
  int port_ = 0;
  int listen_fd_ = -1;
  void* ctx_ = nullptr;  // SSL_CTX
  std::string body_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tessera::http::testing
