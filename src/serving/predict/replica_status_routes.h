// The data plane's actual state over REST (Tessera extension; Vertex has no such view):
//   GET /v1/projects/{project}/locations/{location}/endpoints/{endpoint}/replicas
//     -> {"deployedModels": [<status>...]}  every deployed model of the endpoint that has replicas
//   GET .../endpoints/{endpoint}/deployedModels/{deployed_model}/replicas
//     -> <status>, or 404 when the supervisor runs nothing for it
// where <status> is
//   {"deployedModelId", "model", "modelVersionId", "modelDisplayName", "desiredReplicaCount",
//    "readyReplicaCount", "startFailures", "lastError",
//    "replicas": [{"id", "state": "STARTING|READY|FAILED|DRAINING", "pid", "rssBytes",
//                  "pssBytes", "weightBytes", "sharedWeightBytes", "precision", "isa",
//                  "gemmKernel", "attentionKernel", "precisionAgreement": {"images", "agreeing",
//                  "fraction", "maxConfidenceDifference", "source"} | null, "requests",
//                  "failedRequests", "batches", "queueDepth", "batchSizeHistogram", "inFlight",
//                  "restarts", "startTime", "readyTime", "lastError"}],
//    "autoscalingEvents": [{"time", "currentReplicaCount", "desiredReplicaCount",
//                           "recommendation", "limitedBy", "reason"}]}   (newest last)
// Handlers are synchronous and cheap (in-memory state plus /proc reads).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "control/autoscaler_loop.h"
#include "control/supervisor.h"
#include "serving/front_door/secured_router.h"

namespace tessera::serving {

struct ReplicaStatusSources {
  // Required: what the supervisor runs now.
  std::function<std::vector<control::DeployedModelStatus>()> deployed_models;
  // Optional: the autoscaler's recent decisions for one deployed model.
  std::function<std::vector<control::AutoscalingEvent>(const std::string& deployed_model_id)>
      autoscaling_events;
};

absl::Status AddReplicaStatusRoutes(SecuredRouter& router, ReplicaStatusSources sources);

}  // namespace tessera::serving
