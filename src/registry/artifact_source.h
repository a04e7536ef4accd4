// Where an upload's files come from: `artifactUri` resolved to a list of local files.
//
// Accepted artifactUri forms:
//   /abs/path/folder           a local folder (a Hugging Face checkpoint folder)
//   /abs/path/model.tar[.gz]   a local archive (.tar, .tar.gz, .tgz)
//   file:///abs/path[...]      the same, as a URI (file://localhost/... too; %XX decoded)
//   http(s)://host/any         an archive (.tar or .tar.gz, detected from its content),
//                              downloaded through the injected ArtifactFetcher
// Anything else (relative paths, gs://, s3://, ...) is INVALID_ARGUMENT naming the accepted forms.
//
// Allowed roots: when `allowed_roots` is non-empty, a local path (after resolving symbolic links,
// also for every symlinked file inside a folder) must lie inside one of them, else
// PERMISSION_DENIED naming the roots; an empty list allows any local path the server can read
// (the right default on a laptop; `tessera serve --allowed-artifact-root` narrows it).
// A folder's ".git" subfolder is skipped; other hidden files are kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "registry/archive_extractor.h"
#include "registry/artifact_store.h"
#include "registry/cancellation.h"

namespace tessera::registry {

// Downloads http(s) artifacts. Implemented over the HTTP client by the CLI wiring.
class ArtifactFetcher {
 public:
  virtual ~ArtifactFetcher() = default;
  // Writes the body of `url` to the new file `dest`. More than `max_bytes` is INVALID_ARGUMENT;
  // network failures UNAVAILABLE; HTTP 404 NOT_FOUND; other HTTP errors FAILED_PRECONDITION, with
  // the URL and status in the message. Called on an operation worker thread; returns CANCELLED
  // promptly once `cancel` fires.
  virtual absl::Status Fetch(const std::string& url, const std::filesystem::path& dest,
                             int64_t max_bytes, const CancellationToken& cancel) = 0;
};

struct ArtifactSourceOptions {
  std::vector<std::filesystem::path> allowed_roots;  // empty: any local path
  ArtifactFetcher* fetcher = nullptr;                // not owned; null refuses http(s)
  ExtractLimits limits;                              // archives and folders alike
};

struct ArtifactLocation {
  enum class Kind {
    kLocalFolder,   // files read in place
    kLocalArchive,  // extracted into scratch
    kRemoteArchive  // fetched, then extracted into scratch
  };
  Kind kind = Kind::kLocalFolder;
  std::filesystem::path local_path;  // kLocalFolder, kLocalArchive (canonical)
  std::string url;                   // kRemoteArchive
};

// Request-time checks (cheap, no copying): form, allowed roots, existence of local paths,
// fetcher presence for http(s).
absl::StatusOr<ArtifactLocation> ResolveArtifactUri(const std::string& artifact_uri,
                                                    const ArtifactSourceOptions& options);

// The files to ingest. Archives are downloaded and extracted under `scratch` (an empty folder
// the caller removes); an archive whose only top-level entry is a folder yields that folder's
// contents. Called on an operation worker thread.
absl::StatusOr<std::vector<SourceFile>> CollectArtifactFiles(const ArtifactLocation& location,
                                                             const ArtifactSourceOptions& options,
                                                             const std::filesystem::path& scratch,
                                                             const CancellationToken& cancel);

}  // namespace tessera::registry
