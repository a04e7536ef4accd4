// JSON codecs of Vertex AI v1 `Model` and ModelService request messages (camelCase, as the REST
// API documents them). Pure functions, thread-safe.
//
// Output: the Vertex fields Tessera keeps (name, versionId, versionAliases, versionCreateTime,
// versionUpdateTime, displayName, description, versionDescription, artifactUri, containerSpec,
// labels, createTime, updateTime, etag, deployedModels), plus — unless `strict` — a "tessera"
// object {runtime, artifactDigest, artifactSizeBytes, artifactFiles}. Strict output is what a
// proto parser with unknown fields refused accepts (operation responses, see operation_codec.h).
//
// Input: unknown fields are INVALID_ARGUMENT; output-only fields (name, versionId, times, etag,
// deployedModels, tessera) are accepted and ignored so a client may send back what it read.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "registry/model.h"
#include "registry/model_service.h"

namespace tessera::serving::rest {

struct CodecOptions {
  // Only fields of the Vertex message (no "tessera" extension object).
  bool strict = false;
};

nlohmann::json ModelToJson(const registry::Model& model, const CodecOptions& options = {});

// Reads a `Model` object found at `path` ("model") into `out` (input fields only).
absl::Status ModelFromJson(const nlohmann::json& object, const std::string& path,
                           registry::Model& out);

// POST /v1/{parent}/models:upload body: {model, parentModel?, modelId?, serviceAccount?}.
// `serviceAccount` is accepted and ignored (Tessera has no service accounts).
absl::StatusOr<registry::UploadModelRequest> UploadModelRequestFromJson(std::string_view parent,
                                                                        const nlohmann::json& body);

// POST .../models/{id}:mergeVersionAliases body: {versionAliases: [...]} (required, non-empty).
absl::StatusOr<std::vector<std::string>> MergeVersionAliasesFromJson(const nlohmann::json& body);

}  // namespace tessera::serving::rest
