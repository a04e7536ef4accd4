// KServe v2 / Open Inference Protocol over REST (what tritonclient[http] speaks):
//   GET  /v2/health/live                          200 {"live": true}
//   GET  /v2/health/ready                         200 {"ready": true}
//   GET  /v2                                      server metadata {"name","version","extensions"}
//   GET  /v2/models/{name}[/versions/{version}]          model metadata (kserve_v2.h tensors)
//   GET  /v2/models/{name}[/versions/{version}]/ready    200 {"name","ready":true}; 400 when no
//                                                        replica is ready; 404 unknown model
//   POST /v2/models/{name}[/versions/{version}]/infer    kserve_v2_json.h
// Model names and versions: model_resolver.h. Errors are the protocol's {"error": "<message>"}
// (serving/front_door/error_shape.h).
// Handlers that touch the routing table run on the runner's executor; the health probes answer on
// the io thread. Pointers must outlive the router.
#pragma once

#include "absl/status/status.h"
#include "serving/front_door/secured_router.h"
#include "serving/predict/model_resolver.h"
#include "serving/predict/offload.h"
#include "serving/predict/prediction_service.h"

namespace tessera::serving {

absl::Status AddKserveV2Routes(SecuredRouter& router, PredictionService* predictions,
                               const ModelResolver* resolver, const PredictRunner& runner);

}  // namespace tessera::serving
