// ArtifactFetcher over tessera_http's HttpClient::DownloadToFile: http(s) artifactUri archives.
// A separate library (tessera_registry_http) so tessera_registry itself needs no HTTP stack.
//
// Cancellation: DownloadToFile has no cancel hook, so a cancel takes effect when the download
// ends or reaches `timeout` (the upload then ends CANCELLED and its partial file is swept).
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "common/http/http_client.h"
#include "registry/artifact_source.h"

namespace tessera::registry {

class HttpArtifactFetcher final : public ArtifactFetcher {
 public:
  struct Options {
    absl::Duration timeout = absl::Minutes(30);  // one whole download, redirects included
    http::HttpClient::Options client;            // TLS settings, user agent
  };
  static absl::StatusOr<std::unique_ptr<HttpArtifactFetcher>> Create(const Options& options);

  // Errors name the URL. A body over `max_bytes` is INVALID_ARGUMENT (the request asked for
  // something too large; retrying does not help), HTTP errors keep their mapped code.
  absl::Status Fetch(const std::string& url, const std::filesystem::path& dest, int64_t max_bytes,
                     const CancellationToken& cancel) override;

 private:
  HttpArtifactFetcher(const Options& options, std::unique_ptr<http::HttpClient> client)
      : options_(options), client_(std::move(client)) {}
  const Options options_;
  std::unique_ptr<http::HttpClient> client_;
};

}  // namespace tessera::registry
