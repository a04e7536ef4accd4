// `tessera endpoints ...` and `tessera operations ...` (see client_commands.h).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/client_util.h"
#include "cli/rest_client.h"
#include "common/replica_spec.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::cli {
namespace {

using nlohmann::json;

std::string Replicas(const json& dm) {
  const json res = dm.contains("dedicatedResources") ? dm["dedicatedResources"]
                                                     : dm.value("automaticResources", json());
  if (!res.is_object()) return "";
  return fmt::format("{}-{}", res.value("minReplicaCount", 0), res.value("maxReplicaCount", 0));
}

void PrintEndpoint(const json& e) {
  PrintTable({"FIELD", "VALUE"},
             {{"name", Str(e, "name")},
              {"display name", Str(e, "displayName")},
              {"description", Str(e, "description")},
              {"labels", JoinMap(e.value("labels", json::object()))},
              {"traffic split", JoinMap(e.value("trafficSplit", json::object()))},
              {"created", Str(e, "createTime")},
              {"updated", Str(e, "updateTime")}});
  const json deployed = e.value("deployedModels", json::array());
  if (deployed.empty()) {
    std::printf("\nno deployed models\n");
    return;
  }
  std::printf("\n");
  std::vector<std::vector<std::string>> rows;
  const json split = e.value("trafficSplit", json::object());
  for (const json& dm : deployed) {
    const std::string id = Str(dm, "id");
    const json machine =
        dm.value("dedicatedResources", json::object()).value("machineSpec", json());
    rows.push_back({id, ShortId(Str(dm, "model")), Str(dm, "modelVersionId"),
                    Str(dm.value("status", json::object()), "message"),
                    machine.is_object() ? Str(machine, "machineType") : "automatic", Replicas(dm),
                    split.contains(id) ? split[id].dump() + "%" : "0%"});
  }
  PrintTable({"DEPLOYED ID", "MODEL", "VERSION", "STATE", "MACHINE", "REPLICAS", "TRAFFIC"}, rows);
}

}  // namespace

// client_access_commands.cc
void AddEndpointRateLimitCommand(CLI::App& endpoints, std::shared_ptr<CommonFlags> flags);

void AddEndpointCommands(CLI::App& app) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* group = app.add_subcommand("endpoints", "Manage endpoints and deployments");
  group->require_subcommand(1);
  AddCommonFlags(group, *flags);
  AddEndpointRateLimitCommand(*group, flags);

  struct Create {
    std::string display_name, endpoint_id, description;
    std::vector<std::string> labels;
  };
  auto cr = std::make_shared<Create>();
  CLI::App* create = group->add_subcommand("create", "Create an endpoint");
  create->fallthrough();
  create->add_option("--display-name", cr->display_name, "Display name")->required();
  create->add_option("--endpoint-id", cr->endpoint_id, "Id ([a-z][a-z0-9_-]*); default: numeric");
  create->add_option("--description", cr->description, "Description");
  create->add_option("--label", cr->labels, "KEY=VALUE label (repeatable)");
  create->callback([flags, cr] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(auto labels, ParsePairs(cr->labels, "--label"));
      json body = {{"displayName", cr->display_name}};
      if (!cr->description.empty()) body["description"] = cr->description;
      if (!labels.empty()) body["labels"] = labels;
      std::string path = fmt::format("/v1/{}/endpoints", client->Parent());
      if (!cr->endpoint_id.empty()) path += "?endpointId=" + cr->endpoint_id;
      ASSIGN_OR_RETURN(json op, client->Call("POST", path, &body));
      return FinishOperation(*client, op, false, flags->json, [](const json& e) {
        std::printf("created endpoint %s\n", ShortId(Str(e, "name")).c_str());
      });
    });
  });

  auto filter = std::make_shared<std::string>();
  CLI::App* list = group->add_subcommand("list", "List endpoints");
  list->fallthrough();
  list->add_option("--filter", *filter, "e.g. display_name=\"x\" or labels.team=\"a\"");
  list->callback([flags, filter] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(json all, ListAll(*client, fmt::format("/v1/{}/endpoints", client->Parent()),
                                         "endpoints", *filter, 0));
      if (flags->json) {
        PrintJson(all);
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const json& e : all["endpoints"]) {
        rows.push_back({ShortId(Str(e, "name")), Str(e, "displayName"),
                        std::to_string(e.value("deployedModels", json::array()).size()),
                        JoinMap(e.value("trafficSplit", json::object())), Str(e, "createTime")});
      }
      PrintTable({"ID", "DISPLAY NAME", "DEPLOYED", "TRAFFIC", "CREATED"}, rows);
      return absl::OkStatus();
    });
  });

  auto endpoint_ref = std::make_shared<std::string>();
  CLI::App* get = group->add_subcommand("get", "Show an endpoint and its deployed models");
  get->fallthrough();
  get->add_option("endpoint", *endpoint_ref, "Endpoint id or name")->required();
  get->callback([flags, endpoint_ref] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(
          json e, client->Call("GET", "/v1/" + client->ResourceName("endpoints", *endpoint_ref)));
      flags->json ? PrintJson(e) : PrintEndpoint(e);
      return absl::OkStatus();
    });
  });

  CLI::App* del = group->add_subcommand("delete", "Delete an endpoint (nothing deployed)");
  del->fallthrough();
  del->add_option("endpoint", *endpoint_ref, "Endpoint id or name")->required();
  del->callback([flags, endpoint_ref] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      const std::string name = client->ResourceName("endpoints", *endpoint_ref);
      ASSIGN_OR_RETURN(json op, client->Call("DELETE", "/v1/" + name));
      return FinishOperation(*client, op, false, flags->json,
                             [&](const json&) { std::printf("deleted %s\n", name.c_str()); });
    });
  });

  struct Deploy {
    std::string model, display_name, machine_type = "n1-standard-2", traffic_split, precision;
    int min_replicas = 1, max_replicas = 0, max_batch_size = 0;
    std::optional<double> min_precision_agreement;
    bool automatic = false, async = false;
  };
  auto dp = std::make_shared<Deploy>();
  CLI::App* deploy = group->add_subcommand("deploy", "Deploy a model version to an endpoint");
  deploy->fallthrough();
  deploy->add_option("endpoint", *endpoint_ref, "Endpoint id or name")->required();
  deploy->add_option("--model", dp->model, "MODEL, MODEL@VERSION or MODEL@ALIAS")->required();
  deploy->add_option("--display-name", dp->display_name, "Deployed model display name");
  deploy->add_option("--machine-type", dp->machine_type, "docs/machine-types.md")
      ->capture_default_str();
  deploy->add_option("--min-replicas", dp->min_replicas, "minReplicaCount")->capture_default_str();
  deploy->add_option("--max-replicas", dp->max_replicas, "maxReplicaCount (default: min)");
  deploy->add_flag("--automatic", dp->automatic, "automaticResources instead of dedicated");
  deploy->add_option("--traffic-split", dp->traffic_split,
                     "ID=PERCENT,... (0 = this model); default: unchanged (100 on an empty "
                     "endpoint)");
  deploy->add_option("--precision", dp->precision,
                     "fp32 (default); bf16 where the host has AVX-512 BF16 or AMX; int8 "
                     "(AVX2 at least; fast with VNNI or AMX)");
  deploy->add_option("--min-precision-agreement", dp->min_precision_agreement,
                     fmt::format("bf16 / int8: the share of calibration images whose top-1 class "
                                 "must match fp32's, else the deploy fails (default {})",
                                 kDefaultMinPrecisionAgreement));
  deploy->add_option("--max-batch-size", dp->max_batch_size, "Dynamic batching limit");
  deploy->add_flag("--async", dp->async, "Return at once with the operation");
  deploy->callback([flags, endpoint_ref, dp] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      json dm = {{"model", client->ResourceName("models", dp->model)}};
      if (!dp->display_name.empty()) dm["displayName"] = dp->display_name;
      const int max = dp->max_replicas > 0 ? dp->max_replicas : dp->min_replicas;
      if (dp->automatic) {
        dm["automaticResources"] = {{"minReplicaCount", dp->min_replicas},
                                    {"maxReplicaCount", max}};
      } else {
        dm["dedicatedResources"] = {{"machineSpec", {{"machineType", dp->machine_type}}},
                                    {"minReplicaCount", dp->min_replicas},
                                    {"maxReplicaCount", max}};
      }
      json tessera = json::object();
      if (!dp->precision.empty()) tessera["precision"] = dp->precision;
      if (dp->min_precision_agreement) {
        tessera["minPrecisionAgreement"] = *dp->min_precision_agreement;
      }
      if (dp->max_batch_size > 0) tessera["batching"] = {{"maxBatchSize", dp->max_batch_size}};
      if (!tessera.empty()) dm["tessera"] = tessera;
      json body = {{"deployedModel", dm}};
      if (!dp->traffic_split.empty()) {
        ASSIGN_OR_RETURN(body["trafficSplit"], ParseSplit(dp->traffic_split));
      }
      const std::string endpoint = client->ResourceName("endpoints", *endpoint_ref);
      ASSIGN_OR_RETURN(json op,
                       client->Call("POST", fmt::format("/v1/{}:deployModel", endpoint), &body));
      return FinishOperation(*client, op, dp->async, flags->json, [&](const json& r) {
        std::printf("deployed model %s as deployed model %s on %s\n", dp->model.c_str(),
                    Str(r.value("deployedModel", json::object()), "id").c_str(),
                    ShortId(endpoint).c_str());
      });
    });
  });

  struct Undeploy {
    std::string deployed_model_id, traffic_split;
    bool async = false;
  };
  auto ud = std::make_shared<Undeploy>();
  CLI::App* undeploy = group->add_subcommand("undeploy", "Undeploy a deployed model");
  undeploy->fallthrough();
  undeploy->add_option("endpoint", *endpoint_ref, "Endpoint id or name")->required();
  undeploy->add_option("--deployed-model-id", ud->deployed_model_id, "Deployed model id")
      ->required();
  undeploy->add_option("--traffic-split", ud->traffic_split, "ID=PERCENT,... for the others");
  undeploy->add_flag("--async", ud->async, "Return at once with the operation");
  undeploy->callback([flags, endpoint_ref, ud] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      json body = {{"deployedModelId", ud->deployed_model_id}};
      if (!ud->traffic_split.empty()) {
        ASSIGN_OR_RETURN(body["trafficSplit"], ParseSplit(ud->traffic_split));
      }
      const std::string endpoint = client->ResourceName("endpoints", *endpoint_ref);
      ASSIGN_OR_RETURN(json op,
                       client->Call("POST", fmt::format("/v1/{}:undeployModel", endpoint), &body));
      return FinishOperation(*client, op, ud->async, flags->json, [&](const json&) {
        std::printf("undeployed %s from %s\n", ud->deployed_model_id.c_str(),
                    ShortId(endpoint).c_str());
      });
    });
  });

  auto split = std::make_shared<std::string>();
  CLI::App* set_traffic = group->add_subcommand("set-traffic", "Replace the traffic split");
  set_traffic->fallthrough();
  set_traffic->add_option("endpoint", *endpoint_ref, "Endpoint id or name")->required();
  set_traffic->add_option("--traffic-split", *split, "ID=PERCENT,... summing to 100")->required();
  set_traffic->callback([flags, endpoint_ref, split] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(json parsed, ParseSplit(*split));
      json body = {{"trafficSplit", parsed}};
      ASSIGN_OR_RETURN(json e,
                       client->Call("PATCH",
                                    fmt::format("/v1/{}?updateMask=trafficSplit",
                                                client->ResourceName("endpoints", *endpoint_ref)),
                                    &body));
      flags->json ? PrintJson(e) : PrintEndpoint(e);
      return absl::OkStatus();
    });
  });

  // Request/response logging (predictRequestResponseLoggingConfig; docs/operations.md).
  auto sampling_rate = std::make_shared<double>(0);
  auto store_images = std::make_shared<bool>(false);
  CLI::App* set_logging = group->add_subcommand(
      "set-logging",
      "Log a sample of the endpoint's predict requests and responses (rate 0: stop)");
  set_logging->fallthrough();
  set_logging->add_option("endpoint", *endpoint_ref, "Endpoint id or name")->required();
  set_logging->add_option("--sampling-rate", *sampling_rate, "share of requests logged, 0..1")
      ->required()
      ->check(CLI::Range(0.0, 1.0));
  set_logging->add_flag("--store-images", *store_images,
                        "keep images whole (default: their sha256 and size)");
  set_logging->callback([flags, endpoint_ref, sampling_rate, store_images] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      json body = {{"predictRequestResponseLoggingConfig",
                    {{"enabled", *sampling_rate > 0},
                     {"samplingRate", *sampling_rate},
                     {"tessera", {{"storeImages", *store_images}}}}}};
      ASSIGN_OR_RETURN(
          json e, client->Call("PATCH",
                               fmt::format("/v1/{}?updateMask=predictRequestResponseLoggingConfig",
                                           client->ResourceName("endpoints", *endpoint_ref)),
                               &body));
      flags->json ? PrintJson(e) : PrintEndpoint(e);
      return absl::OkStatus();
    });
  });
}

void AddOperationCommands(CLI::App& app) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* group = app.add_subcommand("operations", "Inspect long-running operations");
  group->require_subcommand(1);
  AddCommonFlags(group, *flags);

  struct ListFlags {
    bool done = false, running = false;
    int page_size = 50;
  };
  auto lf = std::make_shared<ListFlags>();
  CLI::App* list = group->add_subcommand("list", "List operations, newest first");
  list->fallthrough();
  list->add_flag("--done", lf->done, "Only finished operations");
  list->add_flag("--running", lf->running, "Only unfinished operations");
  list->add_option("--limit", lf->page_size, "At most this many")->capture_default_str();
  list->callback([flags, lf] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      const std::string filter = lf->done ? "done=true" : lf->running ? "done=false" : "";
      ASSIGN_OR_RETURN(json all,
                       ListAll(*client, fmt::format("/v1/{}/operations", client->Parent()),
                               "operations", filter, lf->page_size));
      if (flags->json) {
        PrintJson(all);
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const json& op : all["operations"]) {
        std::string type = ShortId(Str(op.value("metadata", json::object()), "@type"));
        type = type.substr(type.rfind('.') + 1);
        const json error = op.value("error", json());
        rows.push_back(
            {ShortId(Str(op, "name")), type, op.value("done", false) ? "yes" : "no",
             error.is_object() ? "error: " + error.value("message", "") : "",
             Str(op.value("metadata", json::object()).value("genericMetadata", json::object()),
                 "createTime")});
      }
      PrintTable({"ID", "TYPE", "DONE", "ERROR", "CREATED"}, rows);
      return absl::OkStatus();
    });
  });

  auto op_ref = std::make_shared<std::string>();
  CLI::App* get = group->add_subcommand("get", "Show an operation");
  get->fallthrough();
  get->add_option("operation", *op_ref, "Operation id or name")->required();
  get->callback([flags, op_ref] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      std::string stage;
      ASSIGN_OR_RETURN(json op,
                       client->Call("GET", "/v1/" + client->ResourceName("operations", *op_ref),
                                    nullptr, &stage));
      if (flags->json) {
        PrintJson(op);
      } else {
        PrintTable({"FIELD", "VALUE"},
                   {{"name", Str(op, "name")},
                    {"type", Str(op.value("metadata", json::object()), "@type")},
                    {"done", op.value("done", false) ? "yes" : "no"},
                    {"progress", stage},
                    {"error", op.contains("error") ? op["error"].dump() : ""},
                    {"response", op.contains("response") ? op["response"].dump() : ""}});
      }
      return absl::OkStatus();
    });
  });

  auto timeout_s = std::make_shared<int>(600);
  CLI::App* wait = group->add_subcommand("wait", "Wait for an operation to finish");
  wait->fallthrough();
  wait->add_option("operation", *op_ref, "Operation id or name")->required();
  wait->add_option("--timeout", *timeout_s, "Seconds")->capture_default_str();
  wait->callback([flags, op_ref, timeout_s] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(json op, client->WaitOperation(client->ResourceName("operations", *op_ref),
                                                      !flags->json, absl::Seconds(*timeout_s)));
      if (flags->json) {
        PrintJson(op);
      } else if (!op.contains("error")) {
        std::printf("done: %s\n", op.value("response", json::object()).dump().c_str());
      }
      return OperationError(op);
    });
  });
}

}  // namespace tessera::cli
