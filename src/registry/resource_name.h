// Vertex AI resource names: `projects/{project}/locations/{location}/{collection}/{id}`.
// Parsing is strict (a malformed name is INVALID_ARGUMENT naming the expected shape) because the
// same strings become folder names under the data dir and SQL keys. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera::registry {

// `projects/{project}/locations/{location}`. Any project and location string is accepted as long
// as it is 1-63 characters of [A-Za-z0-9._-] and does not start with '.' (so it is a safe path
// component). The REST layer documents the defaults it fills in.
struct LocationName {
  std::string project;
  std::string location;

  static absl::StatusOr<LocationName> Parse(std::string_view name);
  std::string ToString() const;
  bool operator==(const LocationName&) const = default;
};

// `projects/{p}/locations/{l}/models/{model}` with an optional `@{version}` where version is a
// version id ("3"), an alias ("prod") or "-" (the default version, as in Vertex's UpdateModel).
struct ModelName {
  LocationName parent;
  std::string model_id;
  std::string version;  // "" when the name carries no '@'

  static absl::StatusOr<ModelName> Parse(std::string_view name);
  // Without the version: `projects/p/locations/l/models/m`.
  std::string ToString() const;
  // With `@version` when one is set.
  std::string ToStringWithVersion() const;
  bool operator==(const ModelName&) const = default;
};

// `projects/{p}/locations/{l}/endpoints/{endpoint}`.
struct EndpointName {
  LocationName parent;
  std::string endpoint_id;

  static absl::StatusOr<EndpointName> Parse(std::string_view name);
  std::string ToString() const;
  bool operator==(const EndpointName&) const = default;
};

// `projects/{p}/locations/{l}/operations/{id}`; ids are numeric strings.
struct OperationName {
  LocationName parent;
  std::string operation_id;

  static absl::StatusOr<OperationName> Parse(std::string_view name);
  std::string ToString() const;
  bool operator==(const OperationName&) const = default;
};

// A user-chosen model or endpoint id (UploadModel's modelId, CreateEndpoint's endpointId):
// 1-63 characters of [a-z0-9_-], first character a lowercase letter. Numeric ids are reserved
// for ids the server allocates (Vertex forbids a leading digit for modelId; for endpointId it
// allows short numbers, which Tessera refuses so they cannot collide with allocated ids).
absl::Status ValidateUserResourceId(std::string_view id, std::string_view field_name);

// True for a server-allocated numeric id ("1", "42"; no sign, no leading zero).
bool IsNumericId(std::string_view id);

}  // namespace tessera::registry
