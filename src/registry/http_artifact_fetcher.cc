#include "registry/http_artifact_fetcher.h"

#include "common/http/peer_address.h"
#include "common/http/url.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera::registry {

absl::StatusOr<std::unique_ptr<HttpArtifactFetcher>> HttpArtifactFetcher::Create(
    const Options& options) {
  http::HttpClient::Options client_options = options.client;
  client_options.peer_filter = [allow = options.allow_private_hosts](std::string_view ip) {
    return http::CheckPeerAddress(ip, allow, kAllowPrivateHostsFlag);
  };
  ASSIGN_OR_RETURN(auto client, http::HttpClient::Create(client_options));
  return std::unique_ptr<HttpArtifactFetcher>(new HttpArtifactFetcher(options, std::move(client)));
}

absl::Status HttpArtifactFetcher::CheckUrl(const std::string& url) {
  absl::StatusOr<http::Url> parsed = http::ParseUrl(url);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("artifactUri {}: {}", url, std::string(parsed.status().message())));
  }
  if (!http::ClassifyPeerAddress(parsed->host).ok()) return absl::OkStatus();  // a name
  absl::Status allowed =
      http::CheckPeerAddress(parsed->host, options_.allow_private_hosts, kAllowPrivateHostsFlag);
  if (allowed.ok()) return allowed;
  return absl::PermissionDeniedError(
      fmt::format("artifactUri {}: {}", url, std::string(allowed.message())));
}

absl::Status HttpArtifactFetcher::Fetch(const std::string& url, const ByteSink& sink,
                                        int64_t max_bytes, const CancellationToken& cancel) {
  RETURN_IF_ERROR(cancel.Check());
  bool sink_failed = false;
  absl::Status s = client_->Download(
      url,
      [&](std::string_view bytes) {
        absl::Status taken = sink(bytes);
        sink_failed = !taken.ok();
        return taken;
      },
      max_bytes, options_.timeout, [&cancel] { return cancel.cancelled(); });
  if (!s.ok() && !sink_failed) {
    return absl::Status(
        s.code(), fmt::format("downloading artifactUri {}: {}", url, std::string(s.message())));
  }
  return s;
}

}  // namespace tessera::registry
