#include "registry/validation.h"

#include "fmt/format.h"

namespace tessera::registry {
namespace {

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLabelChar(char c) {
  return IsLower(c) || IsDigit(c) || c == '_' || c == '-' || static_cast<unsigned char>(c) >= 0x80;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

absl::Status ValidateVersionAlias(std::string_view alias) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format(
        "invalid version alias \"{}\": {} (an alias matches [a-z][a-zA-Z0-9-]{{0,126}}[a-z0-9])",
        alias, why));
  };
  if (alias.size() < 2) return bad("too short");
  if (alias.size() > 128) return bad("longer than 128 characters");
  if (!IsLower(alias.front())) return bad("must start with a lowercase letter");
  if (!(IsLower(alias.back()) || IsDigit(alias.back()))) {
    return bad("must end with a lowercase letter or digit");
  }
  for (char c : alias) {
    if (!(IsLower(c) || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-')) {
      return bad(fmt::format("character '{}' is not allowed", c));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDisplayName(std::string_view display_name, std::string_view field_name) {
  if (display_name.empty()) {
    return absl::InvalidArgumentError(fmt::format("{} is required", field_name));
  }
  if (Utf8Length(display_name) > 128) {
    return absl::InvalidArgumentError(fmt::format("{} is longer than 128 characters", field_name));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabels(const std::map<std::string, std::string>& labels) {
  if (labels.size() > 64) {
    return absl::InvalidArgumentError(
        fmt::format("too many labels: {} (at most 64)", labels.size()));
  }
  for (const auto& [key, value] : labels) {
    bool key_ok = !key.empty() && Utf8Length(key) <= 63 &&
                  (IsLower(key.front()) || static_cast<unsigned char>(key.front()) >= 0x80);
    for (char c : key) key_ok = key_ok && IsLabelChar(c);
    if (!key_ok) {
      return absl::InvalidArgumentError(
          fmt::format("invalid label key \"{}\": use 1-63 characters of [a-z0-9_-] starting with a "
                      "lowercase letter",
                      key));
    }
    bool value_ok = Utf8Length(value) <= 63;
    for (char c : value) value_ok = value_ok && IsLabelChar(c);
    if (!value_ok) {
      return absl::InvalidArgumentError(fmt::format(
          "invalid value \"{}\" for label \"{}\": use at most 63 characters of [a-z0-9_-]", value,
          key));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDescription(std::string_view description, std::string_view field_name) {
  if (description.size() > 2048) {
    return absl::InvalidArgumentError(fmt::format("{} is longer than 2048 bytes", field_name));
  }
  return absl::OkStatus();
}

absl::Status ValidateDeployedModelId(std::string_view id) {
  const bool digits = !id.empty() && id.size() <= 10 &&
                      id.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits || id.front() == '0') {
    // The value may be anything a client sent: quoted only when short.
    return absl::InvalidArgumentError(fmt::format(
        "deployedModel.id must be 1-10 digits not starting with 0 (e.g. \"4242\"), got {}",
        id.size() <= 40 ? fmt::format("\"{}\"", id) : fmt::format("{} characters", id.size())));
  }
  return absl::OkStatus();
}

}  // namespace tessera::registry
