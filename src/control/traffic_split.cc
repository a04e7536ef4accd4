#include "control/traffic_split.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "fmt/format.h"

namespace tessera {

std::string TrafficSplitToString(const TrafficSplit& split) {
  std::string out = "{";
  bool first = true;
  for (const auto& [id, percent] : split) {
    out += fmt::format("{}\"{}\": {}", first ? "" : ", ", id, percent);
    first = false;
  }
  return out + "}";
}

absl::Status ValidateTrafficSplit(const TrafficSplit& split,
                                  const std::set<std::string>& deployed_model_ids) {
  if (split.empty())
    return absl::OkStatus();  // The endpoint accepts no traffic (Vertex semantics).
  int64_t sum = 0;
  for (const auto& [id, percent] : split) {
    if (id.empty()) {
      return absl::InvalidArgumentError("traffic split has an empty deployed model id");
    }
    if (!deployed_model_ids.contains(id)) {
      std::string deployed;
      for (const std::string& d : deployed_model_ids) {
        deployed += fmt::format("{}\"{}\"", deployed.empty() ? "" : ", ", d);
      }
      return absl::InvalidArgumentError(fmt::format(
          "traffic split names deployed model \"{}\", which is not deployed on this endpoint "
          "(deployed models: {})",
          id, deployed.empty() ? std::string("none") : deployed));
    }
    if (percent < 0 || percent > 100) {
      return absl::InvalidArgumentError(fmt::format(
          "traffic split percentage for deployed model \"{}\" is {}; each percentage must be "
          "between 0 and 100",
          id, percent));
    }
    sum += percent;
  }
  if (sum != 100) {
    return absl::InvalidArgumentError(
        fmt::format("traffic split percentages must add up to 100, got {} ({}); use an empty "
                    "split to stop all traffic",
                    sum, TrafficSplitToString(split)));
  }
  return absl::OkStatus();
}

int PickWeightedIndex(std::span<const int> weights, double u) {
  int64_t total = 0;
  for (int w : weights) total += w > 0 ? w : 0;
  if (total == 0) return -1;
  if (!(u > 0.0)) u = 0.0;  // also catches NaN
  int64_t point = static_cast<int64_t>(std::floor(u * static_cast<double>(total)));
  if (point >= total) point = total - 1;  // u >= 1 (clamped), or rounding at the top
  int64_t cumulative = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) continue;
    cumulative += weights[i];
    if (point < cumulative) return static_cast<int>(i);
  }
  return -1;  // unreachable: point < total
}

absl::StatusOr<std::string> PickFromTrafficSplit(const TrafficSplit& split, double u) {
  std::vector<int> weights;
  std::vector<const std::string*> ids;
  weights.reserve(split.size());
  ids.reserve(split.size());
  for (const auto& [id, percent] : split) {
    if (percent < 0) {
      return absl::InvalidArgumentError(fmt::format(
          "traffic split percentage for deployed model \"{}\" is negative ({})", id, percent));
    }
    weights.push_back(percent);
    ids.push_back(&id);
  }
  const int index = PickWeightedIndex(weights, u);
  if (index < 0) {
    return absl::FailedPreconditionError(
        "the endpoint's traffic split sends no traffic to any deployed model");
  }
  return *ids[index];
}

}  // namespace tessera
