// Strict reading and writing of proto3-style JSON for the control-plane REST API.
//
// Why strict: Vertex AI (Google's API front end) rejects request bodies with unknown fields or
// values of the wrong type with 400 INVALID_ARGUMENT ("Invalid JSON payload received. Unknown
// name ..."), and a misspelt field silently ignored is a bug the user never sees. Like a proto
// JSON parser, field names are accepted in lowerCamelCase (the JSON name) or snake_case (the
// proto name); map keys (labels, trafficSplit) are data and are never renamed.
//
// Pure functions and a small stack-only reader; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace tessera::serving::rest {

// Parses a request body that must be a JSON object, through the untrusted-JSON entry point with
// kControlPlaneJsonLimits (common/untrusted_json.h). An empty body is an empty object (POST
// :cancel and :wait send none). INVALID_ARGUMENT for malformed JSON, a non-object, or a body
// over the limits ("JSON nesting deeper than 64").
absl::StatusOr<nlohmann::json> ParseJsonObjectBody(std::string_view body);

// "snake_case_name" -> "snakeCaseName"; camelCase is returned unchanged.
std::string SnakeToCamel(std::string_view name);

// RFC 3339 in UTC with 'Z' and only the fractional digits needed ("2024-05-01T12:00:00.25Z"), as
// google.protobuf.Timestamp's JSON form.
std::string FormatTimestamp(absl::Time time);
// Sets `json[key]` to FormatTimestamp(time) unless `time` is unset (InfinitePast).
void SetTimestamp(nlohmann::json& json, std::string_view key, absl::Time time);

// Reads one JSON object's fields. Each getter looks the field up (camelCase or snake_case),
// checks its type, and marks it consumed; Finish() reports the first field nobody consumed.
// A JSON null is treated as absent (proto JSON semantics). Error messages name the field by its
// path ("model.containerSpec.imageUri"), as Vertex does.
class JsonObjectReader {
 public:
  // `object` must outlive the reader. `path` is the object's own path ("" for the body).
  JsonObjectReader(const nlohmann::json& object, std::string path);

  // Each returns OK and leaves `out` unchanged when the field is absent.
  absl::Status String(std::string_view name, std::string& out);
  // int32: a JSON integer or a decimal string (proto JSON accepts both), in range.
  absl::Status Int32(std::string_view name, int32_t& out);
  absl::Status Int64(std::string_view name, int64_t& out);
  // A finite JSON number (or a decimal string, as proto JSON allows for doubles).
  absl::Status Double(std::string_view name, double& out);
  // A google.protobuf.Timestamp: RFC 3339 ("2026-12-31T23:59:59Z", "...+01:00").
  absl::Status Timestamp(std::string_view name, absl::Time& out);
  absl::Status Bool(std::string_view name, bool& out);
  absl::Status StringList(std::string_view name, std::vector<std::string>& out);
  absl::Status StringMap(std::string_view name, std::map<std::string, std::string>& out);
  absl::Status Int32Map(std::string_view name, std::map<std::string, int32_t>& out);
  // An enum field: a name string (returned as is) or an integer (proto JSON with
  // enum-encoding=int); `int_names[i]` names value i. Unknown integers are INVALID_ARGUMENT.
  absl::Status Enum(std::string_view name, const std::vector<std::string_view>& int_names,
                    std::string& out);
  // A nested object: nullptr when absent, INVALID_ARGUMENT when not an object.
  absl::StatusOr<const nlohmann::json*> Object(std::string_view name);
  // An array of objects (each element checked to be an object): empty when absent.
  absl::StatusOr<std::vector<const nlohmann::json*>> ObjectList(std::string_view name);
  // Marks a field as accepted without reading it (output-only fields a client may echo back).
  void Ignore(std::string_view name);
  // True when the field is present (and not null).
  bool Has(std::string_view name) const;

  // INVALID_ARGUMENT naming the first field that no getter consumed.
  absl::Status Finish() const;

  // The path of a field of this object, for messages and nested readers.
  std::string FieldPath(std::string_view name) const;

 private:
  // The value of field `name` (camelCase), or nullptr. Marks it consumed.
  const nlohmann::json* Take(std::string_view name);
  absl::Status TypeError(std::string_view name, std::string_view expected,
                         const nlohmann::json& value) const;

  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string> consumed_;  // original keys
};

}  // namespace tessera::serving::rest
