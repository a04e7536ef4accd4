// Vertex AI online prediction over REST (aiplatform v1 PredictionService):
//   POST /v1/projects/{project}/locations/{location}/endpoints/{endpoint}:predict
//     body {"instances": [...], "parameters": {...}}
//     -> 200 {"predictions": [...], "deployedModelId": "..", "model": "projects/../models/..",
//             "modelDisplayName": "..", "modelVersionId": ".."}
//     Pin a deployed model (debugging; works at 0% traffic): header
//     X-Vertex-AI-Deployed-Model-Id, or parameters.deployedModelId (removed before forwarding).
//   POST .../endpoints/{endpoint}:rawPredict
//     body passed to the replica unchanged, the replica's body returned unchanged, with headers
//     X-Vertex-AI-Endpoint-Id and X-Vertex-AI-Deployed-Model-Id. Pin by header only.
// Errors are Google JSON errors (PredictionService lists the codes); a malformed body is 400
// INVALID_ARGUMENT before any replica is involved.
//
// The handlers run on the runner's executor (they block on the replica); when its queue is full the
// request gets 503 UNAVAILABLE at once. Both pointers must outlive the router.
#pragma once

#include "absl/status/status.h"
#include "serving/front_door/secured_router.h"
#include "serving/predict/offload.h"
#include "serving/predict/prediction_service.h"

namespace tessera::serving {

inline constexpr char kDeployedModelIdHeader[] = "X-Vertex-AI-Deployed-Model-Id";
inline constexpr char kEndpointIdHeader[] = "X-Vertex-AI-Endpoint-Id";

absl::Status AddVertexPredictRoutes(SecuredRouter& router, PredictionService* predictions,
                                    const PredictRunner& runner);

}  // namespace tessera::serving
