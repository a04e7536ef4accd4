#include "serving/predict/kserve_v2.h"

#include <bit>
#include <cstring>
#include <limits>

#include "absl/strings/str_join.h"
#include "fmt/format.h"

namespace tessera::serving::kserve {
namespace {

constexpr size_t kBytesElementHeader = 4;  // the little-endian length before each element

}  // namespace

absl::StatusOr<int64_t> ElementCount(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (const int64_t dim : shape) {
    if (dim < 0) {
      return absl::InvalidArgumentError(
          fmt::format("shape [{}] has a negative dimension", absl::StrJoin(shape, ", ")));
    }
    if (dim != 0 && count > std::numeric_limits<int64_t>::max() / dim) {
      return absl::InvalidArgumentError(fmt::format(
          "shape [{}] holds more elements than an int64 counts", absl::StrJoin(shape, ", ")));
    }
    count *= dim;
  }
  return count;
}

absl::StatusOr<size_t> CheckImageInput(const InputSpec& spec, const std::string& input_key) {
  if (spec.name != input_key) {
    return absl::InvalidArgumentError(
        fmt::format("unknown input \"{}\"; the model's input is \"{}\" (BYTES, encoded images)",
                    spec.name, input_key));
  }
  if (spec.datatype != "BYTES") {
    return absl::InvalidArgumentError(
        fmt::format("input \"{}\" has datatype {}; it must be BYTES (encoded images)", spec.name,
                    spec.datatype));
  }
  if (absl::Status counted = ElementCount(spec.shape).status(); !counted.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("input \"{}\": {}", spec.name, std::string(counted.message())));
  }
  const bool vector = spec.shape.size() == 1;
  const bool column = spec.shape.size() == 2 && spec.shape[1] == 1;
  if (!vector && !column) {
    return absl::InvalidArgumentError(
        fmt::format("input \"{}\" has shape [{}]; it must be [N] or [N, 1] (one image per element)",
                    spec.name, absl::StrJoin(spec.shape, ", ")));
  }
  if (spec.shape[0] == 0) {
    return absl::InvalidArgumentError(fmt::format("input \"{}\" holds no image", spec.name));
  }
  return static_cast<size_t>(spec.shape[0]);
}

absl::StatusOr<std::vector<std::string>> SplitBytesTensor(std::string_view raw, size_t expected) {
  // The count comes from the request's shape: check it against the bytes present before
  // reserving for it (a shape of 10^18 elements over 0 bytes of data once threw length_error).
  if (expected > raw.size() / kBytesElementHeader) {
    return absl::InvalidArgumentError(fmt::format(
        "the shape says {} BYTES elements, but {} bytes of tensor data hold at most {} (each "
        "element is a 4-byte length and its bytes)",
        expected, raw.size(), raw.size() / kBytesElementHeader));
  }
  std::vector<std::string> elements;
  elements.reserve(expected);
  size_t offset = 0;
  while (offset < raw.size()) {
    if (raw.size() - offset < 4) {
      return absl::InvalidArgumentError(
          fmt::format("BYTES tensor data is truncated: element {} has no complete 4-byte length",
                      elements.size()));
    }
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data() + offset);
    const uint32_t length =
        uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
    offset += 4;
    if (length > raw.size() - offset) {
      return absl::InvalidArgumentError(
          fmt::format("BYTES tensor data is truncated: element {} says {} bytes, {} remain",
                      elements.size(), length, raw.size() - offset));
    }
    elements.emplace_back(raw.substr(offset, length));
    offset += length;
  }
  if (elements.size() != expected) {
    return absl::InvalidArgumentError(fmt::format(
        "BYTES tensor data holds {} elements; its shape says {}", elements.size(), expected));
  }
  return elements;
}

std::string JoinBytesTensor(const std::vector<std::string>& elements) {
  std::string out;
  for (const std::string& e : elements) {
    const auto n = static_cast<uint32_t>(e.size());
    const char length[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                            static_cast<char>((n >> 16) & 0xff),
                            static_cast<char>((n >> 24) & 0xff)};
    out.append(length, 4);
    out.append(e);
  }
  return out;
}

absl::StatusOr<Outputs> OutputsFrom(const std::vector<Classification>& rows) {
  Outputs out;
  const size_t k = rows.empty() ? 0 : rows.front().labels.size();
  for (const Classification& row : rows) {
    if (row.labels.size() != k || row.confidences.size() != k) {
      return absl::InternalError("predictions of one request have different lengths");
    }
    out.labels.insert(out.labels.end(), row.labels.begin(), row.labels.end());
    out.confidences.insert(out.confidences.end(), row.confidences.begin(), row.confidences.end());
  }
  out.shape = {static_cast<int64_t>(rows.size()), static_cast<int64_t>(k)};
  return out;
}

std::string Fp32Bytes(const std::vector<float>& values) {
  static_assert(sizeof(float) == 4 && std::endian::native == std::endian::little);
  std::string out(values.size() * 4, '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

absl::Status CheckOutputName(std::string_view name) {
  if (name == kLabelOutput || name == kConfidenceOutput) return absl::OkStatus();
  return absl::InvalidArgumentError(
      fmt::format("unknown output \"{}\"; the model's outputs are \"{}\" and \"{}\"", name,
                  kLabelOutput, kConfidenceOutput));
}

absl::StatusOr<int> TopKFrom(int64_t value) {
  if (value < 1 || value > 1'000'000) {
    return absl::InvalidArgumentError(
        fmt::format("parameter top_k must be between 1 and 1000000, got {}", value));
  }
  return static_cast<int>(value);
}

}  // namespace tessera::serving::kserve
