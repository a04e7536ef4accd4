// ArtifactFetcher over tessera_http's HttpClient::Download: http(s) artifactUri archives.
// A separate library (tessera_registry_http) so tessera_registry itself needs no HTTP stack.
//
// Reachable hosts (server-side request forgery): every address the download connects to, after
// DNS resolution and on every redirect hop, passes http::CheckPeerAddress. Link-local and cloud
// metadata addresses are never fetched from; loopback and private ranges only with
// Options::allow_private_hosts (`tessera serve --allow-private-artifact-hosts`).
//
// Cancellation: a cancel ends the download within about 20 ms, however stalled the server
// (HttpClient::Download's `stopped`).
#pragma once

#include <memory>
#include <string_view>

#include "absl/time/time.h"
#include "common/http/http_client.h"
#include "registry/artifact_source.h"

namespace tessera::registry {

inline constexpr std::string_view kAllowPrivateHostsFlag = "--allow-private-artifact-hosts";

class HttpArtifactFetcher final : public ArtifactFetcher {
 public:
  struct Options {
    absl::Duration timeout = absl::Minutes(30);  // one whole download, redirects included
    http::HttpClient::Options client;            // TLS settings, user agent (peer_filter is set)
    bool allow_private_hosts = false;            // loopback and private ranges
  };
  static absl::StatusOr<std::unique_ptr<HttpArtifactFetcher>> Create(const Options& options);

  // Errors name the URL. A body over `max_bytes` is RESOURCE_EXHAUSTED (the caller names the
  // limit), a refused address PERMISSION_DENIED, HTTP errors keep their mapped code.
  absl::Status Fetch(const std::string& url, const ByteSink& sink, int64_t max_bytes,
                     const CancellationToken& cancel) override;
  // INVALID_ARGUMENT for a URL the client cannot parse; PERMISSION_DENIED for an IP-literal host
  // in a refused range.
  absl::Status CheckUrl(const std::string& url) override;

 private:
  HttpArtifactFetcher(const Options& options, std::unique_ptr<http::HttpClient> client)
      : options_(options), client_(std::move(client)) {}
  const Options options_;
  std::unique_ptr<http::HttpClient> client_;
};

}  // namespace tessera::registry
