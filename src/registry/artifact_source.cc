#include "registry/artifact_source.h"

#include <algorithm>

#include "common/status_macros.h"
#include "registry/arriving_artifact_check.h"
#include "registry/streamed_archive.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace tessera::registry {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kForms =
    "use an absolute local path or file:// URI of a model folder or .tar/.tar.gz archive, or an "
    "http(s):// URL of a .tar/.tar.gz archive";

bool IsInside(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // trailing separator
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

struct Roots {
  std::vector<fs::path> allowed;  // empty: anywhere
  std::vector<fs::path> denied;
};

std::vector<fs::path> Canonical(const std::vector<fs::path>& paths) {
  std::vector<fs::path> out;
  for (const fs::path& root : paths) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(root, ec);
    out.push_back(ec ? root.lexically_normal() : c);
  }
  return out;
}

Roots CanonicalRoots(const ArtifactSourceOptions& options) {
  return {Canonical(options.allowed_roots), Canonical(options.denied_roots)};
}

absl::Status CheckNotDenied(const fs::path& path, const Roots& roots, const std::string& shown) {
  for (const fs::path& root : roots.denied) {
    if (IsInside(path, root)) {
      return absl::PermissionDeniedError(fmt::format(
          "artifactUri {} lies in {}, the server's own data dir (every project's artifacts and "
          "its keys): upload from a folder of your own",
          shown, root.string()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckInsideRoots(const fs::path& path, const Roots& all_roots,
                              const std::string& shown) {
  RETURN_IF_ERROR(CheckNotDenied(path, all_roots, shown));
  const std::vector<fs::path>& roots = all_roots.allowed;
  if (roots.empty()) return absl::OkStatus();
  for (const fs::path& root : roots) {
    if (IsInside(path, root)) return absl::OkStatus();
  }
  std::vector<std::string> names;
  for (const auto& r : roots) names.push_back(r.string());
  return absl::PermissionDeniedError(fmt::format(
      "artifactUri {} is outside the allowed artifact roots ({}); move the model there or start "
      "the server with --allowed-artifact-root",
      shown, fmt::join(names, ", ")));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) {
        return absl::InvalidArgumentError(fmt::format("invalid %-escape in artifactUri \"{}\"", s));
      }
      char c = static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      if (c == '\0') return absl::InvalidArgumentError("artifactUri contains %00");
      out.push_back(c);
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Walks a folder; every regular file (and symlink to one inside the roots) becomes a SourceFile.
// A file inside a denied root (the folder holds the server's data dir) refuses the whole folder.
absl::StatusOr<std::vector<SourceFile>> ListFolder(const fs::path& folder, const Roots& roots,
                                                   const ExtractLimits& limits) {
  std::vector<SourceFile> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, fs::directory_options::none, ec);
  if (ec)
    return absl::InvalidArgumentError(
        fmt::format("cannot read folder {}: {}", folder.string(), ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::directory_entry& entry = *it;
    fs::path rel = entry.path().lexically_relative(folder);
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) {
      if (entry.path().filename() == ".git") it.disable_recursion_pending();
      continue;
    }
    fs::path source = entry.path();
    RETURN_IF_ERROR(CheckNotDenied(source, roots, source.string()));
    if (entry.is_symlink(ec)) {
      fs::path target = fs::canonical(entry.path(), ec);
      if (ec) {
        return absl::InvalidArgumentError(
            fmt::format("artifact file {} is a broken symbolic link", entry.path().string()));
      }
      RETURN_IF_ERROR(CheckInsideRoots(
          target, roots, fmt::format("{} (via {})", target.string(), entry.path().string())));
      if (fs::is_directory(target, ec)) {
        return absl::InvalidArgumentError(fmt::format(
            "artifact folder {} contains a symbolic link to a folder ({}); copy it instead",
            folder.string(), rel.string()));
      }
      source = target;
    }
    if (!fs::is_regular_file(source, ec)) {
      return absl::InvalidArgumentError(
          fmt::format("artifact entry {} is not a regular file", entry.path().string()));
    }
    files.push_back({source, rel.generic_string()});
    if (static_cast<int64_t>(files.size()) > limits.max_entries) {
      return absl::InvalidArgumentError(fmt::format("artifact folder {} has more than {} files",
                                                    folder.string(), limits.max_entries));
    }
  }
  if (ec)
    return absl::InvalidArgumentError(
        fmt::format("cannot read folder {}: {}", folder.string(), ec.message()));
  if (files.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("artifact folder {} contains no files", folder.string()));
  }
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

}  // namespace

absl::StatusOr<ArtifactLocation> ResolveArtifactUri(const std::string& artifact_uri,
                                                    const ArtifactSourceOptions& options) {
  if (artifact_uri.empty()) {
    return absl::InvalidArgumentError(fmt::format("model.artifactUri is required: {}", kForms));
  }
  ArtifactLocation loc;
  loc.uri = artifact_uri;
  if (std::string_view(artifact_uri).starts_with("http://") ||
      std::string_view(artifact_uri).starts_with("https://")) {
    if (options.fetcher == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("artifactUri {}: this server cannot download http(s) artifacts; {}",
                      artifact_uri, kForms));
    }
    RETURN_IF_ERROR(options.fetcher->CheckUrl(artifact_uri));
    loc.kind = ArtifactLocation::Kind::kRemoteArchive;
    loc.url = artifact_uri;
    return loc;
  }
  std::string path_text;
  if (std::string_view(artifact_uri).starts_with("file://")) {
    std::string_view rest = std::string_view(artifact_uri).substr(7);
    if (std::string_view(rest).starts_with("localhost/")) rest.remove_prefix(9);
    if (rest.empty() || rest.front() != '/') {
      return absl::InvalidArgumentError(
          fmt::format("artifactUri {}: a file:// URI must name an absolute path on this server "
                      "(file:///path or file://localhost/path)",
                      artifact_uri));
    }
    ASSIGN_OR_RETURN(path_text, PercentDecode(rest));
  } else if (!artifact_uri.empty() && artifact_uri.front() == '/') {
    path_text = artifact_uri;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("artifactUri \"{}\" is not supported: {}", artifact_uri, kForms));
  }
  fs::path path = fs::path(path_text).lexically_normal();
  const Roots roots = CanonicalRoots(options);
  // Check the path as written first (no existence leak outside the roots), then as resolved.
  RETURN_IF_ERROR(CheckInsideRoots(path, roots, path.string()));
  std::error_code ec;
  fs::path canonical = fs::canonical(path, ec);
  if (ec) {
    return absl::InvalidArgumentError(fmt::format(
        "artifactUri {}: {} does not exist or is not readable", artifact_uri, path.string()));
  }
  RETURN_IF_ERROR(CheckInsideRoots(
      canonical, roots, fmt::format("{} (resolves to {})", path.string(), canonical.string())));
  if (fs::is_directory(canonical, ec)) {
    loc.kind = ArtifactLocation::Kind::kLocalFolder;
  } else if (fs::is_regular_file(canonical, ec) && LooksLikeTarArchive(canonical.string())) {
    loc.kind = ArtifactLocation::Kind::kLocalArchive;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("artifactUri {} is neither a folder nor a .tar/.tar.gz archive", artifact_uri));
  }
  loc.local_path = canonical;
  return loc;
}

absl::StatusOr<CollectedArtifact> CollectArtifactFiles(const ArtifactLocation& location,
                                                       const ArtifactSourceOptions& options,
                                                       const fs::path& scratch,
                                                       const CancellationToken& cancel,
                                                       const UploadBudget& given_budget,
                                                       ArtifactValidator* validator) {
  const Roots roots = CanonicalRoots(options);
  if (location.kind == ArtifactLocation::Kind::kLocalFolder) {
    ASSIGN_OR_RETURN(std::vector<SourceFile> files,
                     ListFolder(location.local_path, roots, options.limits));
    return CollectedArtifact{std::move(files), location.local_path};
  }
  UploadBudget budget = given_budget;
  budget.cap_bytes = std::min(budget.cap_bytes, options.limits.max_total_bytes);
  fs::path extracted = scratch / "extracted";
  std::error_code ec;
  fs::create_directories(extracted, ec);
  if (ec)
    return absl::InternalError(fmt::format("create {}: {}", extracted.string(), ec.message()));
  const bool remote = location.kind == ArtifactLocation::Kind::kRemoteArchive;
  ArrivingArtifactCheck check(validator, extracted, location.uri);
  if (remote) {
    if (options.fetcher == nullptr) return absl::FailedPreconditionError("no artifact fetcher");
    RETURN_IF_ERROR(FetchAndExtractArchive(*options.fetcher, location.url, extracted,
                                           options.limits, cancel, budget, &check));
  } else {
    RETURN_IF_ERROR(ExtractTarArchive(location.local_path, extracted, options.limits, cancel,
                                      budget, &check));
  }
  // One top-level folder and nothing else: the checkpoint is inside it.
  fs::path root = extracted;
  std::vector<fs::directory_entry> top;
  for (const auto& e : fs::directory_iterator(extracted, ec)) top.push_back(e);
  if (top.size() == 1 && top[0].is_directory()) root = top[0].path();
  // Extracted files are ours (no links), so no roots apply inside.
  ASSIGN_OR_RETURN(std::vector<SourceFile> files, ListFolder(root, {}, options.limits));
  return CollectedArtifact{std::move(files), root};
}

}  // namespace tessera::registry
