#include "serving/rest/endpoint_codec.h"

#include "common/status_macros.h"
#include "fmt/format.h"
#include "serving/rest/json_fields.h"
#include "serving/rest/request_util.h"

namespace tessera::serving::rest {
namespace {

// A google.protobuf.Duration in its JSON form: "30s", "0.5s".
std::string DurationToJson(absl::Duration d) {
  return fmt::format("{}s", absl::ToDoubleSeconds(d));
}

using nlohmann::json;

json MachineSpecToJson(const registry::MachineSpec& spec) {
  json j = json::object();
  j["machineType"] = spec.machine_type;
  if (!spec.accelerator_type.empty()) j["acceleratorType"] = spec.accelerator_type;
  if (spec.accelerator_count != 0) j["acceleratorCount"] = spec.accelerator_count;
  return j;
}

absl::Status MachineSpecFromJson(const json& object, const std::string& path,
                                 registry::MachineSpec& out) {
  JsonObjectReader r(object, path);
  RETURN_IF_ERROR(r.String("machineType", out.machine_type));
  // Enum: a name, or an integer under enum-encoding=int (0 is UNSPECIFIED). Other integers keep
  // a name the deployment rules refuse (Tessera has no accelerators).
  if (r.Has("acceleratorType")) {
    std::string name;
    const absl::Status as_name = r.String("acceleratorType", name);
    if (as_name.ok()) {
      out.accelerator_type = name;
    } else {
      int32_t value = 0;
      RETURN_IF_ERROR(r.Int32("acceleratorType", value));
      out.accelerator_type =
          value == 0 ? "ACCELERATOR_TYPE_UNSPECIFIED" : fmt::format("ACCELERATOR_TYPE_{}", value);
    }
  }
  RETURN_IF_ERROR(r.Int32("acceleratorCount", out.accelerator_count));
  return r.Finish();
}

json DedicatedResourcesToJson(const registry::DedicatedResources& res) {
  json j = json::object();
  j["machineSpec"] = MachineSpecToJson(res.machine_spec);
  j["minReplicaCount"] = res.min_replica_count;
  j["maxReplicaCount"] = res.max_replica_count;
  if (!res.autoscaling_metric_specs.empty()) {
    json specs = json::array();
    for (const auto& s : res.autoscaling_metric_specs) {
      specs.push_back({{"metricName", s.metric_name}, {"target", s.target}});
    }
    j["autoscalingMetricSpecs"] = std::move(specs);
  }
  return j;
}

absl::Status DedicatedResourcesFromJson(const json& object, const std::string& path,
                                        registry::DedicatedResources& out) {
  JsonObjectReader r(object, path);
  ASSIGN_OR_RETURN(const json* spec, r.Object("machineSpec"));
  if (spec != nullptr) {
    RETURN_IF_ERROR(MachineSpecFromJson(*spec, r.FieldPath("machineSpec"), out.machine_spec));
  }
  RETURN_IF_ERROR(r.Int32("minReplicaCount", out.min_replica_count));
  RETURN_IF_ERROR(r.Int32("maxReplicaCount", out.max_replica_count));
  ASSIGN_OR_RETURN(std::vector<const json*> metrics, r.ObjectList("autoscalingMetricSpecs"));
  for (const json* m : metrics) {
    JsonObjectReader mr(*m, r.FieldPath("autoscalingMetricSpecs"));
    registry::AutoscalingMetricSpec metric;
    RETURN_IF_ERROR(mr.String("metricName", metric.metric_name));
    RETURN_IF_ERROR(mr.Int32("target", metric.target));
    RETURN_IF_ERROR(mr.Finish());
    out.autoscaling_metric_specs.push_back(std::move(metric));
  }
  return r.Finish();
}

absl::Status TesseraOptionsFromJson(const json& object, const std::string& path,
                                    registry::DeployedModel& out) {
  JsonObjectReader r(object, path);
  RETURN_IF_ERROR(r.String("precision", out.precision));
  RETURN_IF_ERROR(r.Double("minPrecisionAgreement", out.min_precision_agreement));
  RETURN_IF_ERROR(r.String("inputKey", out.input_key));
  ASSIGN_OR_RETURN(const json* batching, r.Object("batching"));
  if (batching != nullptr) {
    JsonObjectReader br(*batching, r.FieldPath("batching"));
    RETURN_IF_ERROR(br.Int32("maxBatchSize", out.batching.max_batch_size));
    RETURN_IF_ERROR(br.Int64("maxQueueDelayUs", out.batching.max_queue_delay_us));
    RETURN_IF_ERROR(br.Int32("maxQueueSize", out.batching.max_queue_size));
    RETURN_IF_ERROR(br.Finish());
  }
  r.Ignore("state");
  r.Ignore("desiredReplicaCount");
  return r.Finish();
}

}  // namespace

json DeployedModelToJson(const registry::DeployedModel& dm, const CodecOptions& options) {
  json j = json::object();
  j["id"] = dm.id;
  j["model"] = dm.model;
  j["modelVersionId"] = dm.model_version_id;
  if (!dm.display_name.empty()) j["displayName"] = dm.display_name;
  SetTimestamp(j, "createTime", dm.create_time);
  if (dm.dedicated_resources) {
    j["dedicatedResources"] = DedicatedResourcesToJson(*dm.dedicated_resources);
  }
  if (dm.automatic_resources) {
    j["automaticResources"] = {{"minReplicaCount", dm.automatic_resources->min_replica_count},
                               {"maxReplicaCount", dm.automatic_resources->max_replica_count}};
  }
  if (dm.disable_container_logging) j["disableContainerLogging"] = true;
  if (dm.enable_access_logging) j["enableAccessLogging"] = true;
  // Vertex's DeployedModel.status carries a free-text message: Tessera's desired state.
  j["status"] = {{"message", std::string(registry::DeployedModelStateName(dm.state))}};
  if (!options.strict) {
    j["tessera"] = {{"state", std::string(registry::DeployedModelStateName(dm.state))},
                    {"desiredReplicaCount", dm.desired_replica_count},
                    {"precision", dm.precision},
                    {"minPrecisionAgreement", dm.min_precision_agreement},
                    {"inputKey", dm.input_key},
                    {"batching",
                     {{"maxBatchSize", dm.batching.max_batch_size},
                      {"maxQueueDelayUs", dm.batching.max_queue_delay_us},
                      {"maxQueueSize", dm.batching.max_queue_size}}}};
  }
  return j;
}

json EndpointToJson(const registry::Endpoint& endpoint, const CodecOptions& options) {
  json j = json::object();
  j["name"] = endpoint.name;
  j["displayName"] = endpoint.display_name;
  if (!endpoint.description.empty()) j["description"] = endpoint.description;
  if (!endpoint.deployed_models.empty()) {
    json dms = json::array();
    for (const auto& dm : endpoint.deployed_models) dms.push_back(DeployedModelToJson(dm, options));
    j["deployedModels"] = std::move(dms);
  }
  if (!endpoint.traffic_split.empty()) j["trafficSplit"] = endpoint.traffic_split;
  if (!endpoint.etag.empty()) j["etag"] = endpoint.etag;
  if (!endpoint.labels.empty()) j["labels"] = endpoint.labels;
  if (endpoint.inference_timeout > absl::ZeroDuration()) {
    j["clientConnectionConfig"] = {
        {"inferenceTimeout", DurationToJson(endpoint.inference_timeout)}};
  }
  const registry::PayloadLoggingConfig& logging = endpoint.payload_logging;
  if (logging != registry::PayloadLoggingConfig{}) {
    json config = {{"enabled", logging.enabled}, {"samplingRate", logging.sampling_rate}};
    if (!options.strict) config["tessera"] = {{"storeImages", logging.store_images}};
    j["predictRequestResponseLoggingConfig"] = std::move(config);
  }
  SetTimestamp(j, "createTime", endpoint.create_time);
  SetTimestamp(j, "updateTime", endpoint.update_time);
  return j;
}

namespace {

// predictRequestResponseLoggingConfig: Vertex's enabled and samplingRate; a BigQuery destination
// is refused by name (the pairs go under the server's data dir); Tessera's storeImages.
absl::Status PayloadLoggingFromJson(const json& object, const std::string& path,
                                    registry::PayloadLoggingConfig& out) {
  JsonObjectReader r(object, path);
  RETURN_IF_ERROR(r.Bool("enabled", out.enabled));
  RETURN_IF_ERROR(r.Double("samplingRate", out.sampling_rate));
  ASSIGN_OR_RETURN(const json* bigquery, r.Object("bigqueryDestination"));
  if (bigquery != nullptr) {
    JsonObjectReader br(*bigquery, r.FieldPath("bigqueryDestination"));
    std::string uri;
    RETURN_IF_ERROR(br.String("outputUri", uri));
    RETURN_IF_ERROR(br.Finish());
    if (!uri.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}.outputUri: BigQuery is not available here; Tessera writes the sampled requests and "
          "responses as JSON lines under its data dir (payload-logs/): leave bigqueryDestination "
          "out",
          r.FieldPath("bigqueryDestination")));
    }
  }
  ASSIGN_OR_RETURN(const json* tessera, r.Object("tessera"));
  if (tessera != nullptr) {
    JsonObjectReader tr(*tessera, r.FieldPath("tessera"));
    RETURN_IF_ERROR(tr.Bool("storeImages", out.store_images));
    RETURN_IF_ERROR(tr.Finish());
  }
  return r.Finish();
}

}  // namespace

absl::Status EndpointFromJson(const json& object, const std::string& path,
                              registry::Endpoint& out) {
  JsonObjectReader r(object, path);
  RETURN_IF_ERROR(r.String("name", out.name));
  RETURN_IF_ERROR(r.String("displayName", out.display_name));
  RETURN_IF_ERROR(r.String("description", out.description));
  RETURN_IF_ERROR(r.StringMap("labels", out.labels));
  RETURN_IF_ERROR(r.Int32Map("trafficSplit", out.traffic_split));
  RETURN_IF_ERROR(r.String("etag", out.etag));
  ASSIGN_OR_RETURN(const json* connection, r.Object("clientConnectionConfig"));
  if (connection != nullptr) {
    JsonObjectReader cr(*connection, r.FieldPath("clientConnectionConfig"));
    std::string timeout;
    RETURN_IF_ERROR(cr.String("inferenceTimeout", timeout));
    RETURN_IF_ERROR(cr.Finish());
    if (!timeout.empty()) {
      absl::StatusOr<absl::Duration> parsed = ParseDuration(timeout);
      if (!parsed.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("{}.inferenceTimeout: \"{}\" is not a duration (e.g. \"30s\")",
                        r.FieldPath("clientConnectionConfig"), timeout.substr(0, 40)));
      }
      out.inference_timeout = *parsed;
    }
  }
  ASSIGN_OR_RETURN(const json* logging, r.Object("predictRequestResponseLoggingConfig"));
  if (logging != nullptr) {
    RETURN_IF_ERROR(PayloadLoggingFromJson(
        *logging, r.FieldPath("predictRequestResponseLoggingConfig"), out.payload_logging));
  }
  for (std::string_view ignored :
       {"deployedModels", "createTime", "updateTime", "satisfiesPzs", "satisfiesPzi"}) {
    r.Ignore(ignored);
  }
  return r.Finish();
}

absl::Status DeployedModelFromJson(const json& object, const std::string& path,
                                   registry::DeployedModel& out) {
  JsonObjectReader r(object, path);
  RETURN_IF_ERROR(r.String("id", out.id));  // optional: a user-chosen id (Vertex), else allocated
  RETURN_IF_ERROR(r.String("model", out.model));
  RETURN_IF_ERROR(r.String("displayName", out.display_name));
  ASSIGN_OR_RETURN(const json* dedicated, r.Object("dedicatedResources"));
  if (dedicated != nullptr) {
    registry::DedicatedResources res;
    RETURN_IF_ERROR(DedicatedResourcesFromJson(*dedicated, r.FieldPath("dedicatedResources"), res));
    out.dedicated_resources = std::move(res);
  }
  ASSIGN_OR_RETURN(const json* automatic, r.Object("automaticResources"));
  if (automatic != nullptr) {
    JsonObjectReader ar(*automatic, r.FieldPath("automaticResources"));
    registry::AutomaticResources res;
    RETURN_IF_ERROR(ar.Int32("minReplicaCount", res.min_replica_count));
    RETURN_IF_ERROR(ar.Int32("maxReplicaCount", res.max_replica_count));
    RETURN_IF_ERROR(ar.Finish());
    out.automatic_resources = res;
  }
  RETURN_IF_ERROR(r.Bool("disableContainerLogging", out.disable_container_logging));
  RETURN_IF_ERROR(r.Bool("enableAccessLogging", out.enable_access_logging));
  ASSIGN_OR_RETURN(const json* tessera, r.Object("tessera"));
  if (tessera != nullptr) {
    RETURN_IF_ERROR(TesseraOptionsFromJson(*tessera, r.FieldPath("tessera"), out));
  }
  // Output only.
  for (std::string_view ignored : {"modelVersionId", "createTime", "status"}) {
    r.Ignore(ignored);
  }
  // Vertex fields Tessera does not implement.
  for (std::string_view unsupported :
       {"sharedResources", "explanationSpec", "serviceAccount", "privateEndpoints",
        "fasterDeploymentConfig", "speculativeDecodingSpec", "checkpointId"}) {
    if (r.Has(unsupported)) {
      return absl::InvalidArgumentError(
          fmt::format("{} is not supported by Tessera", r.FieldPath(unsupported)));
    }
  }
  bool disable_explanations = false;
  RETURN_IF_ERROR(r.Bool("disableExplanations", disable_explanations));  // nothing to disable
  return r.Finish();
}

absl::StatusOr<control::DeployModelRequest> DeployModelRequestFromJson(std::string_view endpoint,
                                                                       const json& body) {
  control::DeployModelRequest request;
  request.endpoint = std::string(endpoint);
  JsonObjectReader r(body, "");
  r.Ignore("endpoint");  // the path names it
  ASSIGN_OR_RETURN(const json* dm, r.Object("deployedModel"));
  if (dm == nullptr) return absl::InvalidArgumentError("deployedModel is required");
  RETURN_IF_ERROR(DeployedModelFromJson(*dm, "deployedModel", request.deployed_model));
  RETURN_IF_ERROR(r.Int32Map("trafficSplit", request.traffic_split));
  RETURN_IF_ERROR(r.Finish());
  if (request.deployed_model.model.empty()) {
    return absl::InvalidArgumentError("deployedModel.model is required");
  }
  return request;
}

absl::StatusOr<control::UndeployModelRequest> UndeployModelRequestFromJson(
    std::string_view endpoint, const json& body) {
  control::UndeployModelRequest request;
  request.endpoint = std::string(endpoint);
  JsonObjectReader r(body, "");
  r.Ignore("endpoint");
  RETURN_IF_ERROR(r.String("deployedModelId", request.deployed_model_id));
  RETURN_IF_ERROR(r.Int32Map("trafficSplit", request.traffic_split));
  RETURN_IF_ERROR(r.Finish());
  if (request.deployed_model_id.empty()) {
    return absl::InvalidArgumentError("deployedModelId is required");
  }
  return request;
}

}  // namespace tessera::serving::rest
