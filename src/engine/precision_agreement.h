// A reduced-precision model checked against fp32 on real images before it serves: the share of
// images whose top-1 class is the same in both, and the largest top-1 confidence difference
// where it is. A replica measures it during warm-up and refuses to serve below a floor.
//
// The images are the artifact's own when it ships some (a `calibration/` folder beside
// config.json), else the sample images Tessera vendors (data/images, compiled into the binary).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedded_file.h"
#include "engine/image_classifier.h"

namespace tessera::engine {

// The folder of an artifact's calibration images, and how much of it is read.
inline constexpr char kCalibrationFolder[] = "calibration";
inline constexpr int kMaxCalibrationImages = 64;
inline constexpr uintmax_t kMaxCalibrationImageBytes = uintmax_t{32} << 20;
inline constexpr uintmax_t kMaxCalibrationSetBytes = uintmax_t{256} << 20;

// The sample images compiled into the binary (data/images/...).
std::span<const EmbeddedFile> SampleImages();

struct CalibrationSet {
  std::string source;  // "the model's calibration/ folder" or "Tessera's sample images"
  std::vector<std::string> names;
  std::vector<std::vector<uint8_t>> images;  // encoded, as a request would carry them
};
// The artifact's calibration/ folder (its first kMaxCalibrationImages regular files by name,
// dotfiles skipped; a file over kMaxCalibrationImageBytes, a set over kMaxCalibrationSetBytes, an
// empty folder or a `calibration` that is not a folder is an INVALID_ARGUMENT naming it), else
// SampleImages().
absl::StatusOr<CalibrationSet> LoadCalibrationSet(const std::filesystem::path& model_dir);

struct PrecisionAgreement {
  std::string precision;  // the reduced one, e.g. "int8"
  std::string source;     // CalibrationSet::source
  int images = 0;
  int agreeing = 0;  // images whose top-1 class is fp32's
  double fraction() const { return images == 0 ? 0.0 : double(agreeing) / images; }
  double max_confidence_difference = 0;  // over the agreeing images
};
// Classifies `set` with `reduced` and with an fp32 load of the same model (made for this and
// freed before returning: for a while the process holds both). An image either load cannot
// decode is an INVALID_ARGUMENT naming it. Not re-entrant on `reduced` (it runs Classify).
absl::StatusOr<PrecisionAgreement> MeasureAgreement(ImageClassifier& reduced,
                                                    const std::filesystem::path& model_dir,
                                                    const EngineOptions& reduced_options,
                                                    const CalibrationSet& set);

// "int8 agrees with fp32 on the top-1 class of 13 of 14 calibration images (92.9%, Tessera's
// sample images), top-1 confidence within 0.0123".
std::string DescribeAgreement(const PrecisionAgreement& agreement);
// OK at or above `floor` (a share in [0, 1]); else FAILED_PRECONDITION with the figures, naming
// the setting (`floor_name`) that lowers the floor.
absl::Status CheckAgreementFloor(const PrecisionAgreement& agreement, double floor,
                                 std::string_view floor_name);

}  // namespace tessera::engine
