// Traffic split: which share of an endpoint's requests each deployed model receives.
//
// As in Vertex AI (Endpoint.traffic_split): a map from deployed-model id to a percentage in
// [0, 100]. The percentages add up to 100, or the map is empty, which means the endpoint accepts no
// traffic at the moment (Vertex documents both). A deployed model not in the map receives no
// traffic, but can still be reached by pinning its id (debugging).
//
// Everything here is pure: no clock, no state, the random draw is an argument. Cheap enough for
// the request path (a linear scan over a handful of entries).
#pragma once

#include <map>
#include <set>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tessera {

using TrafficSplit = std::map<std::string, int>;

// OK when every key is one of `deployed_model_ids`, every value is in [0, 100] and the values sum
// to 100, or the split is empty. Otherwise INVALID_ARGUMENT with a message that names the offending
// entry, e.g. `traffic split percentages must add up to 100, got 90 ("1": 50, "2": 40)`.
absl::Status ValidateTrafficSplit(const TrafficSplit& split,
                                  const std::set<std::string>& deployed_model_ids);

// Weighted choice. `weights` are >= 0; `u` is a uniform draw in [0, 1) (values outside are
// clamped). Returns the index i such that floor(u * total) falls in [w0 + ... + w(i-1), w0 + ... +
// wi), so weight-0 entries are never chosen and the result is a deterministic function of `u`:
// with weights {90, 10}, u in [0, 0.9) picks 0 and u in [0.9, 1) picks 1. Returns -1 when the
// weights sum to 0 (or are empty).
int PickWeightedIndex(std::span<const int> weights, double u);

// Picks the deployed model id for a draw `u` in [0, 1): entries in key order, weighted by
// percentage (see PickWeightedIndex). FAILED_PRECONDITION when the split is empty or all zero (the
// endpoint takes no traffic); INVALID_ARGUMENT for a negative percentage.
absl::StatusOr<std::string> PickFromTrafficSplit(const TrafficSplit& split, double u);

// `{"1": 90, "2": 10}`, for messages and logs.
std::string TrafficSplitToString(const TrafficSplit& split);

}  // namespace tessera
