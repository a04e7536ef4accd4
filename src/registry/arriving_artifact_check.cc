#include "registry/arriving_artifact_check.h"

#include <iterator>
#include <utility>

#include "fmt/format.h"

namespace tessera::registry {

namespace fs = std::filesystem;

ArrivingArtifactCheck::ArrivingArtifactCheck(ArtifactValidator* validator, fs::path dest,
                                             std::string artifact)
    : validator_(validator), dest_(std::move(dest)), artifact_(std::move(artifact)) {}

fs::path ArrivingArtifactCheck::ImpliedRoot() const {
  if (file_at_top_level_ || top_level_folders_.size() != 1) return fs::path();
  return *top_level_folders_.begin();
}

void ArrivingArtifactCheck::RebuildView() {
  view_.clear();
  for (const auto& [rel, file] : files_) {
    view_[fs::path(rel).lexically_relative(*root_).string()] = file;
  }
}

absl::Status ArrivingArtifactCheck::OnFileProgress(const fs::path& rel, int64_t written,
                                                   bool complete) {
  if (decided_ || validator_ == nullptr) return absl::OkStatus();
  const bool new_file = !files_.contains(rel.string());
  files_[rel.string()] = ArrivingFile{.bytes_written = written, .complete = complete};
  if (new_file) {
    if (std::next(rel.begin()) == rel.end()) {
      file_at_top_level_ = true;
    } else {
      top_level_folders_.insert(rel.begin()->string());
    }
    fs::path root = ImpliedRoot();
    if (!root_ || *root_ != root) {
      root_ = std::move(root);
      RebuildView();
    }
  }
  const std::string in_root = rel.lexically_relative(*root_).string();
  view_[in_root] = files_[rel.string()];
  std::optional<absl::Status> verdict = validator_->ValidateEarly(dest_ / *root_, view_);
  if (!verdict) return absl::OkStatus();
  decided_ = true;
  if (verdict->ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      fmt::format("artifact {} is not a servable model (refused while it arrived): {}", artifact_,
                  std::string(verdict->message())));
}

}  // namespace tessera::registry
