// A registry::ArtifactFetcher over a local file, for tests of http(s) intake without a server:
// serves the file as the body of any URL in 64 KiB pieces and counts what the sink took. It can
// also misbehave as servers do: drop the connection after `fail_after` bytes, or go silent after
// `stall_after` bytes until the download is stopped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "registry/artifact_source.h"

namespace tessera::testing {

struct FetchBehaviour {
  int64_t fail_after = -1;
  int64_t stall_after = -1;
};

class FileFetcher final : public registry::ArtifactFetcher {
 public:
  explicit FileFetcher(std::filesystem::path file, FetchBehaviour behaviour = {})
      : file_(std::move(file)), behaviour_(behaviour) {}
  absl::Status Fetch(const std::string& url, const ByteSink& sink, int64_t max_bytes,
                     const registry::CancellationToken& cancel) override;

  std::string last_url;
  int64_t bytes_taken = 0;

 private:
  std::filesystem::path file_;
  FetchBehaviour behaviour_;
};

}  // namespace tessera::testing
