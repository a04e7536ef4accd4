// List requests (pageSize, pageToken, filter) and their results, shared by every List method.
//
// Filters are a subset of Vertex AI's (AIP-160) syntax:
//   display_name="x"        (displayName= also accepted)
//   labels.KEY="VALUE"      (labels.KEY:VALUE also accepted)
//   labels.KEY:*            (label present, any value; `labels:KEY` also accepted)
//   done=true | done=false  (operations only)
// joined with AND. Anything else (OR, NOT, parentheses, other fields or operators) is
// INVALID_ARGUMENT naming what was not understood and listing what is supported.
//
// Page tokens are opaque to clients: base64 of "<list kind>:<last key>". A token that does not
// decode, or comes from another kind of list, is INVALID_ARGUMENT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::registry {

struct ListQuery {
  int32_t page_size = 0;   // 0: the default (100); values above 1000 are capped at 1000
  std::string page_token;  // "" for the first page
  std::string filter;      // "" for no filter
};

template <typename T>
struct ListPage {
  std::vector<T> items;
  std::string next_page_token;  // "" on the last page
};

struct LabelCondition {
  std::string key;
  std::optional<std::string> value;  // nullopt: the label only has to exist
  bool operator==(const LabelCondition&) const = default;
};

struct ListFilter {
  std::optional<std::string> display_name;
  std::vector<LabelCondition> labels;  // all must hold
  std::optional<bool> done;
};

// Which fields a list accepts in its filter.
struct FilterFields {
  bool display_name = false;
  bool labels = false;
  bool done = false;
};

absl::StatusOr<ListFilter> ParseListFilter(std::string_view filter, const FilterFields& fields);

// Effective page size: INVALID_ARGUMENT when negative, 100 when 0, at most 1000.
absl::StatusOr<int32_t> EffectivePageSize(int32_t page_size);

std::string EncodePageToken(std::string_view list_kind, int64_t last_key);
// Returns the last key of the previous page, or 0 for an empty token.
absl::StatusOr<int64_t> DecodePageToken(std::string_view token, std::string_view list_kind);

}  // namespace tessera::registry
