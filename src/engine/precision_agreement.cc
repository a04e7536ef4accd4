#include "engine/precision_agreement.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <system_error>

#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera::engine {
namespace {

absl::StatusOr<std::vector<uint8_t>> ReadImage(const std::filesystem::path& path) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (error) {
    return absl::InvalidArgumentError(
        fmt::format("calibration image {}: {}", path.filename().string(), error.message()));
  }
  if (size > kMaxCalibrationImageBytes) {
    return absl::InvalidArgumentError(
        fmt::format("calibration image {} is {} bytes, over the {}-byte limit",
                    path.filename().string(), size, kMaxCalibrationImageBytes));
  }
  // Read at most the size seen (the file may grow meanwhile).
  std::vector<uint8_t> bytes(size);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size));
  bytes.resize(size_t(in.gcount()));
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(
        fmt::format("calibration image {} cannot be read", path.filename().string()));
  }
  return bytes;
}

// Top-1 of every image, failing on the first that does not decode.
absl::StatusOr<std::vector<Prediction>> TopOnes(ImageClassifier& classifier,
                                                const CalibrationSet& set, const char* which) {
  std::vector<std::span<const uint8_t>> spans(set.images.begin(), set.images.end());
  std::vector<absl::StatusOr<std::vector<Prediction>>> results = classifier.Classify(spans, 1);
  std::vector<Prediction> top;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok() || results[i]->empty()) {
      return absl::InvalidArgumentError(
          fmt::format("calibration image {} ({}) in {}: {}", set.names[i], set.source, which,
                      results[i].ok() ? std::string("no prediction")
                                      : std::string(results[i].status().message())));
    }
    top.push_back(results[i]->front());
  }
  return top;
}

}  // namespace

absl::StatusOr<CalibrationSet> LoadCalibrationSet(const std::filesystem::path& model_dir) {
  CalibrationSet set;
  const std::filesystem::path folder = model_dir / kCalibrationFolder;
  std::error_code error;
  if (!std::filesystem::exists(std::filesystem::symlink_status(folder, error))) {
    set.source = "Tessera's sample images";
    for (const EmbeddedFile& file : SampleImages()) {
      set.names.emplace_back(file.name);
      set.images.emplace_back(file.bytes.begin(), file.bytes.end());
    }
    return set;
  }
  if (!std::filesystem::is_directory(folder, error)) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not a folder of images", kCalibrationFolder));
  }
  set.source = fmt::format("the model's {}/ folder", kCalibrationFolder);
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(folder, error), end; !error && it != end;
       it.increment(error)) {
    const bool hidden = it->path().filename().string().starts_with(".");  // .DS_Store...
    if (!hidden && it->is_regular_file(error)) files.push_back(it->path());
  }
  if (error) {
    return absl::InvalidArgumentError(
        fmt::format("{}/ cannot be listed: {}", kCalibrationFolder, error.message()));
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}/ holds no images: add some, or remove it to use Tessera's sample images",
                    kCalibrationFolder));
  }
  std::sort(files.begin(), files.end());
  if (files.size() > size_t(kMaxCalibrationImages)) files.resize(kMaxCalibrationImages);
  uintmax_t total = 0;
  for (const std::filesystem::path& file : files) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadImage(file));
    total += bytes.size();
    if (total > kMaxCalibrationSetBytes) {
      return absl::InvalidArgumentError(
          fmt::format("{}/ holds over {} bytes of images (at {}): keep it smaller",
                      kCalibrationFolder, kMaxCalibrationSetBytes, file.filename().string()));
    }
    set.names.push_back(file.filename().string());
    set.images.push_back(std::move(bytes));
  }
  return set;
}

absl::StatusOr<PrecisionAgreement> MeasureAgreement(ImageClassifier& reduced,
                                                    const std::filesystem::path& model_dir,
                                                    const EngineOptions& reduced_options,
                                                    const CalibrationSet& set) {
  PrecisionAgreement agreement{.precision = reduced.info().precision, .source = set.source};
  ASSIGN_OR_RETURN(std::vector<Prediction> got, TopOnes(reduced, set, agreement.precision.c_str()));
  EngineOptions fp32_options = reduced_options;
  fp32_options.precision = "fp32";
  fp32_options.packed_weights_path.clear();  // a private packing, gone with the load
  // Its workspace scales with the batch: a serving batch of 1024 would need GBs for a while.
  fp32_options.max_batch_size = std::min(fp32_options.max_batch_size, 8);
  std::vector<Prediction> expected;
  {
    ASSIGN_OR_RETURN(auto fp32, ImageClassifier::Load(model_dir, fp32_options));
    ASSIGN_OR_RETURN(expected, TopOnes(*fp32, set, "fp32"));
  }
  agreement.images = static_cast<int>(got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].class_index != expected[i].class_index) continue;
    ++agreement.agreeing;
    agreement.max_confidence_difference =
        std::max(agreement.max_confidence_difference,
                 std::fabs(double{got[i].confidence} - expected[i].confidence));
  }
  return agreement;
}

std::string DescribeAgreement(const PrecisionAgreement& a) {
  return fmt::format(
      "{} agrees with fp32 on the top-1 class of {} of {} calibration images ({:.1f}%, {}), "
      "top-1 confidence within {:.4f}",
      a.precision, a.agreeing, a.images, 100 * a.fraction(), a.source, a.max_confidence_difference);
}

absl::Status CheckAgreementFloor(const PrecisionAgreement& agreement, double floor,
                                 std::string_view floor_name) {
  if (agreement.images > 0 && agreement.fraction() >= floor) return absl::OkStatus();
  return absl::FailedPreconditionError(fmt::format(
      "{}: below the floor of {:.1f}% ({}); serve the model in fp32, or lower the floor if these "
      "images do not represent its inputs",
      DescribeAgreement(agreement), 100 * floor, floor_name));
}

}  // namespace tessera::engine
