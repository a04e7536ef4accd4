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
// Denied roots: a local path inside one of them -- or a folder holding a file inside one -- is
// PERMISSION_DENIED whatever the allowed roots say. `tessera serve` denies its own data dir: its
// artifact store holds every project's weights and the folder holds admin.key, so a deployer of
// one project must not upload from it.
// A folder's ".git" subfolder is skipped; other hidden files are kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "registry/archive_extractor.h"
#include "registry/artifact_store.h"
#include "registry/artifact_validator.h"
#include "registry/cancellation.h"
#include "registry/upload_budget.h"

namespace tessera::registry {

// Downloads http(s) artifacts. Implemented over the HTTP client by the CLI wiring.
class ArtifactFetcher {
 public:
  using ByteSink = std::function<absl::Status(std::string_view bytes)>;
  virtual ~ArtifactFetcher() = default;
  // Gives the body of `url` to `sink`, in order, as it arrives. More than `max_bytes` (declared
  // or received) is RESOURCE_EXHAUSTED; network failures UNAVAILABLE; HTTP 404 NOT_FOUND; other
  // HTTP errors FAILED_PRECONDITION; a host this server may not fetch from PERMISSION_DENIED;
  // with the URL and status in the message. An error from `sink` ends the download and is
  // returned. Called on a thread of its own; returns CANCELLED within ~20 ms of `cancel` firing,
  // however stalled the server.
  virtual absl::Status Fetch(const std::string& url, const ByteSink& sink, int64_t max_bytes,
                             const CancellationToken& cancel) = 0;
  // Request-time checks that need no network (URL form; an IP-literal host outside what the
  // server may fetch from is PERMISSION_DENIED at once). Names resolve only in Fetch.
  virtual absl::Status CheckUrl(const std::string& url) {
    (void)url;
    return absl::OkStatus();
  }
};

struct ArtifactSourceOptions {
  std::vector<std::filesystem::path> allowed_roots;  // empty: any local path
  std::vector<std::filesystem::path> denied_roots;   // never read from (the server's data dir)
  ArtifactFetcher* fetcher = nullptr;                // not owned; null refuses http(s)
  ExtractLimits limits;                              // archives and folders alike
};

struct ArtifactLocation {
  enum class Kind {
    kLocalFolder,   // files read in place
    kLocalArchive,  // extracted into scratch
    kRemoteArchive  // extracted into scratch while it downloads
  };
  Kind kind = Kind::kLocalFolder;
  std::filesystem::path local_path;  // kLocalFolder, kLocalArchive (canonical)
  std::string url;                   // kRemoteArchive
  std::string uri;                   // the artifactUri as given (for messages)
};

// Request-time checks (cheap, no copying): form, allowed roots, existence of local paths,
// fetcher presence for http(s).
absl::StatusOr<ArtifactLocation> ResolveArtifactUri(const std::string& artifact_uri,
                                                    const ArtifactSourceOptions& options);

struct CollectedArtifact {
  std::vector<SourceFile> files;
  // The folder holding the files as they will be laid out (the local folder itself, or the
  // extracted archive's root in scratch): validated before anything is copied into the store.
  std::filesystem::path root;
};

// The files to ingest. Archives are extracted under `scratch` (an empty folder the caller
// removes), http(s) ones while they download (registry/streamed_archive.h); an archive whose
// only top-level entry is a folder yields that folder's contents. Everything extracted stays
// within `budget`: a declared size (Content-Length, tar header) over it is refused before
// writing, the bytes written while writing. With `validator` (optional, not owned), an archive
// is judged while it arrives (registry/arriving_artifact_check.h). Called on an operation
// worker thread.
absl::StatusOr<CollectedArtifact> CollectArtifactFiles(const ArtifactLocation& location,
                                                       const ArtifactSourceOptions& options,
                                                       const std::filesystem::path& scratch,
                                                       const CancellationToken& cancel,
                                                       const UploadBudget& budget = UploadBudget(),
                                                       ArtifactValidator* validator = nullptr);

}  // namespace tessera::registry
