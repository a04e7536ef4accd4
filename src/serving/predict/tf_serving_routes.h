// TensorFlow Serving's REST API over Tessera's deployed models (docs/protocols.md):
//   POST /v1/models/{name}[/versions/{version}|/labels/{label}]:predict
//     row format      {"signature_name"?,
//                      "instances": [{"b64": ..} | {"<input>": {"b64": ..}}, ..]}
//                     -> {"predictions": [{"label": .., "confidence": ..}, ..]}
//     columnar format {"signature_name"?, "inputs": [..] | {"<input>": [..]} | {"b64": ..}}
//                     -> {"outputs": {"label": [..], "confidence": [..]}}
//     "parameters" (top_k, confidence_threshold) is accepted as in Vertex (a Tessera extension).
//   GET  /v1/models/{name}[/versions/{version}|/labels/{label}]
//     -> {"model_version_status": [{"version", "state": AVAILABLE|LOADING, "status"}]}
//   GET  /v1/models/{name}[/versions/{version}|/labels/{label}]/metadata
//     -> {"model_spec", "metadata": {"signature_def": {...serving_default...}}}
// Names and versions: serving/predict/model_resolver.h. The one signature is "serving_default":
// input <the deployed model's input key> (DT_STRING, encoded images), outputs "label"
// (DT_STRING) and "confidence" (DT_FLOAT). Errors are TF Serving's {"error": "<message>"} with
// the HTTP status of the code (serving/front_door/error_shape.h).
//
// Handlers run on the runner's executor; predicts are counted by its metrics. `predictions` and
// `resolver` must outlive the router.
#pragma once

#include "absl/status/status.h"
#include "serving/front_door/secured_router.h"
#include "serving/predict/model_resolver.h"
#include "serving/predict/offload.h"
#include "serving/predict/prediction_service.h"

namespace tessera::serving {

absl::Status AddTfServingRoutes(SecuredRouter& router, PredictionService* predictions,
                                const ModelResolver* resolver, const PredictRunner& runner);

}  // namespace tessera::serving
