// JSON codec of google.longrunning.Operation as Vertex AI v1 returns it:
//   {"name": "projects/p/locations/l/operations/7",
//    "metadata": {"@type": "type.googleapis.com/<v1>.UploadModelOperationMetadata",
//                 "genericMetadata": {"createTime": "...", "updateTime": "..."}},
//    "done": true,
//    "response": {"@type": "type.googleapis.com/<v1>.UploadModelResponse",
//                 "model": "...", "modelVersionId": "1"}}
// (<v1> = google.cloud.aiplatform.v1)
// or, for a failure, "error": {"code": <google.rpc.Code number>, "message": "..."}.
//
// Why the output is strict (only fields of the named message types): Google's client libraries
// poll operations with a proto JSON parser that refuses unknown fields, also inside the "@type"d
// messages. Tessera's progress (percent and stage) therefore travels in response headers of the
// single-operation calls (kProgressHeader, kStageHeader), not in the body; deploy operations also
// report Vertex's own `deploymentStage` where the stage has a Vertex name.
// Pure functions, thread-safe.
#pragma once

#include <string_view>

#include "nlohmann/json.hpp"
#include "registry/operation.h"

namespace tessera::serving::rest {

inline constexpr std::string_view kProgressHeader = "X-Tessera-Progress-Percent";
inline constexpr std::string_view kStageHeader = "X-Tessera-Stage";

// "type.googleapis.com/" + name.
std::string TypeUrl(std::string_view message_type);

// `response` is the response message's fields without "@type" (the caller builds it: some
// kinds embed a resource it must read, see registry/operation.h); ignored unless the operation
// succeeded.
nlohmann::json OperationToJson(const registry::Operation& operation,
                               const nlohmann::json& response);

// The fields of the response message that only need the operation's result (UploadModelResponse,
// Empty, UndeployModelResponse), or a minimal form for the kinds that embed a resource
// (CreateEndpoint -> {name}, DeployModel -> {deployedModel: {id}}), used when that resource is
// gone.
nlohmann::json MinimalOperationResponse(const registry::Operation& operation);

}  // namespace tessera::serving::rest
