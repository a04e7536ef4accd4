// Field rules shared by the model and endpoint services, as Vertex AI documents them. Each
// returns INVALID_ARGUMENT naming the field and the rule. Pure functions, thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace tessera::registry {

// Version alias: 2-128 characters matching [a-z][a-zA-Z0-9-]{0,126}[a-z0-9], and not a number
// (so it cannot be mistaken for a version id). `-alias` (removal) is handled by the caller.
absl::Status ValidateVersionAlias(std::string_view alias);

// displayName: required, at most 128 UTF-8 characters.
absl::Status ValidateDisplayName(std::string_view display_name, std::string_view field_name);

// Labels: at most 64; keys 1-63 characters of [a-z0-9_-] starting with a lowercase letter;
// values 0-63 characters of [a-z0-9_-] (Vertex also allows international characters; Tessera
// accepts bytes >= 0x80 in keys and values the same way).
absl::Status ValidateLabels(const std::map<std::string, std::string>& labels);

// Description fields: at most 2048 bytes here (a server-side bound, not a Vertex rule).
absl::Status ValidateDescription(std::string_view description, std::string_view field_name);

// A user-chosen deployedModel.id: Vertex allows 1-10 characters of [0-9]; Tessera also refuses a
// leading 0, because ids are stored as numbers and "042" would come back as "42".
absl::Status ValidateDeployedModelId(std::string_view id);

}  // namespace tessera::registry
