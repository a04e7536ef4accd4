#include "registry/sqlite/record_codec.h"

#include <exception>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::registry::sqlite {
namespace {

using nlohmann::json;

absl::Status Corrupt(std::string_view what, const std::exception& e) {
  return absl::InternalError(
      fmt::format("corrupt {} record in the metadata database: {}", what, e.what()));
}

json MachineSpecJson(const MachineSpec& m) {
  return {{"machineType", m.machine_type},
          {"acceleratorType", m.accelerator_type},
          {"acceleratorCount", m.accelerator_count}};
}

}  // namespace

std::string EncodeContainerSpec(const ContainerSpec& spec) {
  json env = json::array();
  for (const auto& e : spec.env) env.push_back({{"name", e.name}, {"value", e.value}});
  json j = {{"imageUri", spec.image_uri},
            {"command", spec.command},
            {"args", spec.args},
            {"env", env},
            {"ports", spec.ports},
            {"predictRoute", spec.predict_route},
            {"healthRoute", spec.health_route}};
  return j.dump();
}

absl::StatusOr<ContainerSpec> DecodeContainerSpec(const std::string& text) {
  try {
    json j = json::parse(text);
    ContainerSpec spec;
    spec.image_uri = j.at("imageUri").get<std::string>();
    spec.command = j.at("command").get<std::vector<std::string>>();
    spec.args = j.at("args").get<std::vector<std::string>>();
    for (const auto& e : j.at("env")) {
      spec.env.push_back({e.at("name").get<std::string>(), e.at("value").get<std::string>()});
    }
    spec.ports = j.at("ports").get<std::vector<int32_t>>();
    spec.predict_route = j.at("predictRoute").get<std::string>();
    spec.health_route = j.at("healthRoute").get<std::string>();
    return spec;
  } catch (const std::exception& e) {
    return Corrupt("container spec", e);
  }
}

std::string EncodeResources(const DeployedModel& dm) {
  json j = json::object();
  if (dm.dedicated_resources) {
    const auto& d = *dm.dedicated_resources;
    json metrics = json::array();
    for (const auto& m : d.autoscaling_metric_specs) {
      metrics.push_back({{"metricName", m.metric_name}, {"target", m.target}});
    }
    j["dedicated"] = {{"machineSpec", MachineSpecJson(d.machine_spec)},
                      {"minReplicaCount", d.min_replica_count},
                      {"maxReplicaCount", d.max_replica_count},
                      {"autoscalingMetricSpecs", metrics}};
  }
  if (dm.automatic_resources) {
    j["automatic"] = {{"minReplicaCount", dm.automatic_resources->min_replica_count},
                      {"maxReplicaCount", dm.automatic_resources->max_replica_count}};
  }
  return j.dump();
}

absl::Status DecodeResources(const std::string& text, DeployedModel& dm) {
  try {
    json j = json::parse(text);
    if (j.contains("dedicated")) {
      const json& d = j["dedicated"];
      DedicatedResources r;
      r.machine_spec.machine_type = d.at("machineSpec").at("machineType").get<std::string>();
      r.machine_spec.accelerator_type =
          d.at("machineSpec").at("acceleratorType").get<std::string>();
      r.machine_spec.accelerator_count = d.at("machineSpec").at("acceleratorCount").get<int32_t>();
      r.min_replica_count = d.at("minReplicaCount").get<int32_t>();
      r.max_replica_count = d.at("maxReplicaCount").get<int32_t>();
      for (const auto& m : d.at("autoscalingMetricSpecs")) {
        r.autoscaling_metric_specs.push_back(
            {m.at("metricName").get<std::string>(), m.at("target").get<int32_t>()});
      }
      dm.dedicated_resources = r;
    }
    if (j.contains("automatic")) {
      const json& a = j["automatic"];
      dm.automatic_resources = AutomaticResources{a.at("minReplicaCount").get<int32_t>(),
                                                  a.at("maxReplicaCount").get<int32_t>()};
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return Corrupt("deployed model resources", e);
  }
}

std::string EncodeServing(const DeployedModel& dm) {
  json j = {{"maxBatchSize", dm.batching.max_batch_size},
            {"maxQueueDelayUs", dm.batching.max_queue_delay_us},
            {"maxQueueSize", dm.batching.max_queue_size},
            {"inputKey", dm.input_key},
            {"precision", dm.precision},
            {"minPrecisionAgreement", dm.min_precision_agreement},
            {"disableContainerLogging", dm.disable_container_logging},
            {"enableAccessLogging", dm.enable_access_logging}};
  return j.dump();
}

absl::Status DecodeServing(const std::string& text, DeployedModel& dm) {
  try {
    json j = json::parse(text);
    dm.batching.max_batch_size = j.at("maxBatchSize").get<int32_t>();
    dm.batching.max_queue_delay_us = j.at("maxQueueDelayUs").get<int64_t>();
    dm.batching.max_queue_size = j.at("maxQueueSize").get<int32_t>();
    dm.input_key = j.at("inputKey").get<std::string>();
    dm.precision = j.at("precision").get<std::string>();
    // Absent in rows written before the floor existed: they get the default.
    dm.min_precision_agreement = j.value("minPrecisionAgreement", kDefaultMinPrecisionAgreement);
    dm.disable_container_logging = j.at("disableContainerLogging").get<bool>();
    dm.enable_access_logging = j.at("enableAccessLogging").get<bool>();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return Corrupt("deployed model serving options", e);
  }
}

}  // namespace tessera::registry::sqlite
