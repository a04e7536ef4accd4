#include "registry/resource_name.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"

namespace tessera::registry {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsValidSegment(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '.') return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// Splits `name` into exactly `parts` segments on '/', or returns an empty vector.
std::vector<std::string> Split(std::string_view name) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(absl::string_view(name.data(), name.size()), '/')) {
    out.emplace_back(part);
  }
  return out;
}

absl::Status BadName(std::string_view kind, std::string_view name, std::string_view shape) {
  return absl::InvalidArgumentError(
      fmt::format("invalid {} name \"{}\": expected {}", kind, name, shape));
}

// Parses the first four segments as projects/{p}/locations/{l}.
bool ParseLocationPrefix(const std::vector<std::string>& parts, LocationName& out) {
  if (parts.size() < 4 || parts[0] != "projects" || parts[2] != "locations") return false;
  if (!IsValidSegment(parts[1]) || !IsValidSegment(parts[3])) return false;
  out.project = parts[1];
  out.location = parts[3];
  return true;
}

// Any id segment: either a server id (numeric) or a user id; the strict user-id rule applies at
// creation only, so names of existing resources parse with the looser segment rule.
bool IsValidIdSegment(std::string_view s) { return IsValidSegment(s); }

}  // namespace

absl::StatusOr<LocationName> LocationName::Parse(std::string_view name) {
  constexpr std::string_view kShape = "projects/{project}/locations/{location}";
  LocationName out;
  auto parts = Split(name);
  if (parts.size() != 4 || !ParseLocationPrefix(parts, out)) {
    return BadName("parent", name, kShape);
  }
  return out;
}

std::string LocationName::ToString() const {
  return fmt::format("projects/{}/locations/{}", project, location);
}

absl::StatusOr<ModelName> ModelName::Parse(std::string_view name) {
  constexpr std::string_view kShape =
      "projects/{project}/locations/{location}/models/{model}[@{version or alias}]";
  ModelName out;
  auto parts = Split(name);
  if (parts.size() != 6 || !ParseLocationPrefix(parts, out.parent) || parts[4] != "models") {
    return BadName("model", name, kShape);
  }
  std::string id = parts[5];
  if (auto at = id.find('@'); at != std::string::npos) {
    out.version = id.substr(at + 1);
    id.resize(at);
    if (out.version.empty() || (out.version != "-" && !IsValidSegment(out.version))) {
      return BadName("model", name, kShape);
    }
  }
  if (!IsValidIdSegment(id)) return BadName("model", name, kShape);
  out.model_id = id;
  return out;
}

std::string ModelName::ToString() const {
  return fmt::format("{}/models/{}", parent.ToString(), model_id);
}

std::string ModelName::ToStringWithVersion() const {
  if (version.empty()) return ToString();
  return fmt::format("{}@{}", ToString(), version);
}

absl::StatusOr<EndpointName> EndpointName::Parse(std::string_view name) {
  constexpr std::string_view kShape =
      "projects/{project}/locations/{location}/endpoints/{endpoint}";
  EndpointName out;
  auto parts = Split(name);
  if (parts.size() != 6 || !ParseLocationPrefix(parts, out.parent) || parts[4] != "endpoints" ||
      !IsValidIdSegment(parts[5])) {
    return BadName("endpoint", name, kShape);
  }
  out.endpoint_id = parts[5];
  return out;
}

std::string EndpointName::ToString() const {
  return fmt::format("{}/endpoints/{}", parent.ToString(), endpoint_id);
}

absl::StatusOr<OperationName> OperationName::Parse(std::string_view name) {
  constexpr std::string_view kShape =
      "projects/{project}/locations/{location}/operations/{operation}";
  OperationName out;
  auto parts = Split(name);
  if (parts.size() != 6 || !ParseLocationPrefix(parts, out.parent) || parts[4] != "operations" ||
      !IsNumericId(parts[5])) {
    return BadName("operation", name, kShape);
  }
  out.operation_id = parts[5];
  return out;
}

std::string OperationName::ToString() const {
  return fmt::format("{}/operations/{}", parent.ToString(), operation_id);
}

absl::Status ValidateUserResourceId(std::string_view id, std::string_view field_name) {
  bool ok = !id.empty() && id.size() <= 63 && id.front() >= 'a' && id.front() <= 'z';
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(fmt::format(
        "invalid {} \"{}\": use 1-63 characters of [a-z0-9_-] starting with a lowercase letter "
        "(numeric ids are allocated by the server)",
        field_name, id));
  }
  return absl::OkStatus();
}

bool IsNumericId(std::string_view id) {
  if (id.empty() || id.size() > 18 || id.front() == '0') return false;
  for (char c : id) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace tessera::registry
