#include "serving/rest/json_fields.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "common/untrusted_json.h"
#include "fmt/format.h"

namespace tessera::serving::rest {
namespace {

using nlohmann::json;

absl::StatusOr<int64_t> ParseInteger(const json& value) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned()) {
      const uint64_t u = value.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return absl::OutOfRangeError("out of range");
      }
      return static_cast<int64_t>(u);
    }
    return value.get<int64_t>();
  }
  if (value.is_number_float()) {
    // Proto JSON accepts 3.0 for an integer field, not 3.5. The range check comes first:
    // converting a double outside int64's range (1e30) is undefined behaviour (found by
    // control_plane_codec_fuzzer). 2^63 is exact as a double; every double below it converts.
    const double d = value.get<double>();
    constexpr double kTwoToThe63 = 9223372036854775808.0;
    if (!(d >= -kTwoToThe63 && d < kTwoToThe63)) return absl::OutOfRangeError("out of range");
    if (d != static_cast<double>(static_cast<int64_t>(d))) {
      return absl::InvalidArgumentError("not an integer");
    }
    return static_cast<int64_t>(d);
  }
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s.empty() || s.size() > 20) return absl::InvalidArgumentError("not an integer");
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) return absl::InvalidArgumentError("not an integer");
    for (size_t k = i; k < s.size(); ++k) {
      if (s[k] < '0' || s[k] > '9') return absl::InvalidArgumentError("not an integer");
    }
    try {
      return static_cast<int64_t>(std::stoll(s));
    } catch (const std::exception&) {
      return absl::OutOfRangeError("out of range");
    }
  }
  return absl::InvalidArgumentError("not an integer");
}

}  // namespace

absl::StatusOr<json> ParseJsonObjectBody(std::string_view body) {
  bool blank = true;
  for (const char c : body) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      blank = false;
      break;
    }
  }
  if (blank) return json::object();
  absl::StatusOr<json> parsed = ParseUntrustedJson(body, kControlPlaneJsonLimits);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError(
        "Invalid JSON payload received. The request body must be a JSON object");
  }
  return parsed;
}

std::string SnakeToCamel(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool upper = false;
  for (const char c : name) {
    if (c == '_' && !out.empty()) {
      upper = true;
      continue;
    }
    out.push_back(upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  return out;
}

std::string FormatTimestamp(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", time, absl::UTCTimeZone());
}

void SetTimestamp(json& object, std::string_view key, absl::Time time) {
  if (time == absl::InfinitePast() || time == absl::InfiniteFuture()) return;
  object[std::string(key)] = FormatTimestamp(time);
}

JsonObjectReader::JsonObjectReader(const json& object, std::string path)
    : object_(object), path_(std::move(path)) {}

std::string JsonObjectReader::FieldPath(std::string_view name) const {
  return path_.empty() ? std::string(name) : fmt::format("{}.{}", path_, name);
}

const json* JsonObjectReader::Take(std::string_view name) {
  const json* found = nullptr;
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (it.key() == name || SnakeToCamel(it.key()) == name) {
      consumed_.insert(it.key());
      if (!it.value().is_null()) found = &it.value();
    }
  }
  return found;
}

bool JsonObjectReader::Has(std::string_view name) const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if ((it.key() == name || SnakeToCamel(it.key()) == name) && !it.value().is_null()) {
      return true;
    }
  }
  return false;
}

absl::Status JsonObjectReader::TypeError(std::string_view name, std::string_view expected,
                                         const json& value) const {
  return absl::InvalidArgumentError(
      fmt::format("Invalid value at '{}' ({}), {}", FieldPath(name), expected, JsonPreview(value)));
}

absl::Status JsonObjectReader::String(std::string_view name, std::string& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_string()) return TypeError(name, "TYPE_STRING", *v);
  out = v->get<std::string>();
  return absl::OkStatus();
}

absl::Status JsonObjectReader::Int64(std::string_view name, int64_t& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  absl::StatusOr<int64_t> parsed = ParseInteger(*v);
  if (!parsed.ok()) return TypeError(name, "TYPE_INT64", *v);
  out = *parsed;
  return absl::OkStatus();
}

absl::Status JsonObjectReader::Double(std::string_view name, double& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  double value = 0;
  if (v->is_number()) {
    value = v->get<double>();
  } else if (v->is_string()) {
    const std::string& text = v->get_ref<const std::string&>();
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size())
      return TypeError(name, "TYPE_DOUBLE", *v);
  } else {
    return TypeError(name, "TYPE_DOUBLE", *v);
  }
  if (!std::isfinite(value)) return TypeError(name, "TYPE_DOUBLE", *v);
  out = value;
  return absl::OkStatus();
}

absl::Status JsonObjectReader::Timestamp(std::string_view name, absl::Time& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_string()) return TypeError(name, "TYPE_MESSAGE (google.protobuf.Timestamp)", *v);
  absl::Time parsed;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, v->get<std::string>(), &parsed, &error)) {
    return absl::InvalidArgumentError(fmt::format(
        "Invalid value at '{}': \"{}\" is not an RFC 3339 timestamp (2026-12-31T23:59:59Z)",
        FieldPath(name), v->get<std::string>().substr(0, 64)));
  }
  out = parsed;
  return absl::OkStatus();
}

absl::Status JsonObjectReader::Int32(std::string_view name, int32_t& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  absl::StatusOr<int64_t> parsed = ParseInteger(*v);
  if (!parsed.ok() || *parsed < std::numeric_limits<int32_t>::min() ||
      *parsed > std::numeric_limits<int32_t>::max()) {
    return TypeError(name, "TYPE_INT32", *v);
  }
  out = static_cast<int32_t>(*parsed);
  return absl::OkStatus();
}

absl::Status JsonObjectReader::Bool(std::string_view name, bool& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_boolean()) return TypeError(name, "TYPE_BOOL", *v);
  out = v->get<bool>();
  return absl::OkStatus();
}

absl::Status JsonObjectReader::StringList(std::string_view name, std::vector<std::string>& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_array()) return TypeError(name, "TYPE_STRING", *v);
  std::vector<std::string> values;
  for (const json& e : *v) {
    if (!e.is_string()) return TypeError(name, "TYPE_STRING", e);
    values.push_back(e.get<std::string>());
  }
  out = std::move(values);
  return absl::OkStatus();
}

absl::Status JsonObjectReader::StringMap(std::string_view name,
                                         std::map<std::string, std::string>& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_object()) return TypeError(name, "TYPE_MESSAGE", *v);
  std::map<std::string, std::string> values;
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_string()) {
      return TypeError(fmt::format("{}[{}]", name, it.key()), "TYPE_STRING", it.value());
    }
    values[it.key()] = it.value().get<std::string>();
  }
  out = std::move(values);
  return absl::OkStatus();
}

absl::Status JsonObjectReader::Int32Map(std::string_view name,
                                        std::map<std::string, int32_t>& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_object()) return TypeError(name, "TYPE_MESSAGE", *v);
  std::map<std::string, int32_t> values;
  for (auto it = v->begin(); it != v->end(); ++it) {
    absl::StatusOr<int64_t> parsed = ParseInteger(it.value());
    if (!parsed.ok() || *parsed < std::numeric_limits<int32_t>::min() ||
        *parsed > std::numeric_limits<int32_t>::max()) {
      return TypeError(fmt::format("{}[{}]", name, it.key()), "TYPE_INT32", it.value());
    }
    values[it.key()] = static_cast<int32_t>(*parsed);
  }
  out = std::move(values);
  return absl::OkStatus();
}

absl::Status JsonObjectReader::Enum(std::string_view name,
                                    const std::vector<std::string_view>& int_names,
                                    std::string& out) {
  const json* v = Take(name);
  if (v == nullptr) return absl::OkStatus();
  if (v->is_string()) {
    out = v->get<std::string>();
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> parsed = ParseInteger(*v);
  if (!parsed.ok() || *parsed < 0 || *parsed >= static_cast<int64_t>(int_names.size())) {
    return TypeError(name, "TYPE_ENUM", *v);
  }
  out = std::string(int_names[static_cast<size_t>(*parsed)]);
  return absl::OkStatus();
}

absl::StatusOr<const json*> JsonObjectReader::Object(std::string_view name) {
  const json* v = Take(name);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) return TypeError(name, "TYPE_MESSAGE", *v);
  return v;
}

absl::StatusOr<std::vector<const json*>> JsonObjectReader::ObjectList(std::string_view name) {
  std::vector<const json*> out;
  const json* v = Take(name);
  if (v == nullptr) return out;
  if (!v->is_array()) return TypeError(name, "TYPE_MESSAGE", *v);
  for (const json& e : *v) {
    if (!e.is_object()) return TypeError(name, "TYPE_MESSAGE", e);
    out.push_back(&e);
  }
  return out;
}

void JsonObjectReader::Ignore(std::string_view name) { (void)Take(name); }

absl::Status JsonObjectReader::Finish() const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (consumed_.count(it.key()) == 0) {
      return absl::InvalidArgumentError(
          fmt::format("Invalid JSON payload received. Unknown name \"{}\" at '{}': Cannot find "
                      "field.",
                      it.key(), path_.empty() ? "" : path_));
    }
  }
  return absl::OkStatus();
}

}  // namespace tessera::serving::rest
