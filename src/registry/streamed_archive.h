// An http(s) archive extracted while it downloads: nothing of the archive itself touches the
// disk, only its extracted files, and a refusal by the extractor (a bad entry, the size budget,
// the ArrivingArtifactCheck) ends the download at once instead of after the last byte.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "registry/archive_extractor.h"
#include "registry/artifact_source.h"
#include "registry/cancellation.h"
#include "registry/upload_budget.h"

namespace tessera::registry {

// Runs `fetcher` on a thread of its own, writing into one end of a socket pair; the calling
// thread extracts from the other end into `dest`. The error is the download's when the download
// failed first (network, HTTP status, more than `budget` allows: named by `budget`), else the
// extraction's (naming `url`).
absl::Status FetchAndExtractArchive(ArtifactFetcher& fetcher, const std::string& url,
                                    const std::filesystem::path& dest, const ExtractLimits& limits,
                                    const CancellationToken& cancel, const UploadBudget& budget,
                                    ExtractObserver* observer);

}  // namespace tessera::registry
