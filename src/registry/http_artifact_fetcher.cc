#include "registry/http_artifact_fetcher.h"

#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera::registry {

absl::StatusOr<std::unique_ptr<HttpArtifactFetcher>> HttpArtifactFetcher::Create(
    const Options& options) {
  ASSIGN_OR_RETURN(auto client, http::HttpClient::Create(options.client));
  return std::unique_ptr<HttpArtifactFetcher>(new HttpArtifactFetcher(options, std::move(client)));
}

absl::Status HttpArtifactFetcher::Fetch(const std::string& url, const std::filesystem::path& dest,
                                        int64_t max_bytes, const CancellationToken& cancel) {
  RETURN_IF_ERROR(cancel.Check());
  absl::Status s = client_->DownloadToFile(url, dest, max_bytes, options_.timeout);
  if (!s.ok()) {
    absl::StatusCode code =
        absl::IsResourceExhausted(s) ? absl::StatusCode::kInvalidArgument : s.code();
    return absl::Status(
        code, fmt::format("downloading artifactUri {}: {}", url, std::string(s.message())));
  }
  return cancel.Check();
}

}  // namespace tessera::registry
