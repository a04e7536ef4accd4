// Judges an archive while it is being extracted: as soon as what has arrived lets the validator
// decide (ArtifactValidator::ValidateEarly; for a checkpoint, its configs and the safetensors
// header), a bad one ends the extraction, and with it the download feeding it, after kilobytes
// instead of gigabytes.
//
// The artifact's root is the archive's top level, or its one top-level folder while every file
// so far lies inside it (CollectArtifactFiles unwraps such a folder). An archive whose first
// files sit in one folder and whose later ones do not is judged on that folder first; the
// complete artifact is validated again either way.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "registry/archive_extractor.h"
#include "registry/artifact_validator.h"

namespace tessera::registry {

class ArrivingArtifactCheck final : public ExtractObserver {
 public:
  // `validator` (not owned) judges the files under `dest`, the extraction's destination;
  // `artifact` names the upload in the error.
  ArrivingArtifactCheck(ArtifactValidator* validator, std::filesystem::path dest,
                        std::string artifact);

  absl::Status OnFileProgress(const std::filesystem::path& rel, int64_t written,
                              bool complete) override;

 private:
  // The root the files so far imply: "" (the top level) or the one top-level folder.
  std::filesystem::path ImpliedRoot() const;
  void RebuildView();

  ArtifactValidator* const validator_;
  const std::filesystem::path dest_;
  const std::string artifact_;
  std::map<std::string, ArrivingFile> files_;  // relative to dest_
  bool file_at_top_level_ = false;
  std::set<std::string> top_level_folders_;
  std::optional<std::filesystem::path> root_;  // relative to dest_; unset before the first file
  ArrivingFiles view_;                         // files_ relative to root_
  bool decided_ = false;
};

}  // namespace tessera::registry
