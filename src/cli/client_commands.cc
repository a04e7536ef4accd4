#include "cli/client_commands.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/client_util.h"
#include "cli/rest_client.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::cli {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------- models

void PrintModel(const json& m) {
  const json tessera = m.value("tessera", json::object());
  std::vector<std::vector<std::string>> rows = {
      {"name", Str(m, "name")},
      {"version", Str(m, "versionId")},
      {"aliases", Join(m.value("versionAliases", json::array()))},
      {"display name", Str(m, "displayName")},
      {"description", Str(m, "description")},
      {"version description", Str(m, "versionDescription")},
      {"artifact uri", Str(m, "artifactUri")},
      {"image", Str(m.value("containerSpec", json::object()), "imageUri")},
      {"runtime", Str(tessera, "runtime")},
      {"artifact bytes",
       tessera.contains("artifactSizeBytes") ? tessera["artifactSizeBytes"].dump() : std::string()},
      {"labels", JoinMap(m.value("labels", json::object()))},
      {"created", Str(m, "createTime")},
      {"version created", Str(m, "versionCreateTime")},
  };
  for (const json& d : m.value("deployedModels", json::array())) {
    rows.push_back({"deployed on", fmt::format("{} (deployed model {})", Str(d, "endpoint"),
                                               Str(d, "deployedModelId"))});
  }
  PrintTable({"FIELD", "VALUE"}, rows);
}

void PrintModelRows(const json& models, bool versions) {
  std::vector<std::vector<std::string>> rows;
  for (const json& m : models) {
    const std::string deployed = std::to_string(m.value("deployedModels", json::array()).size());
    if (versions) {
      rows.push_back({Str(m, "versionId"), Join(m.value("versionAliases", json::array())),
                      Str(m, "versionCreateTime"), deployed, Str(m, "versionDescription")});
    } else {
      rows.push_back({ShortId(Str(m, "name")), Str(m, "versionId"), Str(m, "displayName"),
                      Join(m.value("versionAliases", json::array())), Str(m, "createTime")});
    }
  }
  if (versions) {
    PrintTable({"VERSION", "ALIASES", "CREATED", "DEPLOYED", "DESCRIPTION"}, rows);
  } else {
    PrintTable({"ID", "DEFAULT VERSION", "DISPLAY NAME", "ALIASES", "CREATED"}, rows);
  }
}

void AddModelCommands(CLI::App& app) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* group = app.add_subcommand("models", "Manage models and their versions");
  group->require_subcommand(1);
  AddCommonFlags(group, *flags);

  struct Upload {
    std::string display_name, artifact_uri, image = "tessera/vit", description, version_description,
                                            parent_model, model_id;
    std::vector<std::string> aliases, labels;
    bool async = false;
  };
  auto up = std::make_shared<Upload>();
  CLI::App* upload = group->add_subcommand("upload", "Upload a model (or a new version)");
  upload->fallthrough();
  upload->add_option("--display-name", up->display_name, "Display name (required for a new model)");
  upload
      ->add_option("--artifact-uri", up->artifact_uri,
                   "Checkpoint folder, .tar/.tar.gz, file:// or http(s):// archive")
      ->required();
  upload->add_option("--image", up->image, "containerSpec.imageUri (selects the runtime)")
      ->capture_default_str();
  upload->add_option("--description", up->description, "Model description");
  upload->add_option("--version-description", up->version_description, "Version description");
  upload->add_option("--parent-model", up->parent_model, "Add a version to this model");
  upload->add_option("--model-id", up->model_id, "Id of a new model ([a-z][a-z0-9_-]*)");
  upload->add_option("--alias", up->aliases, "Version alias (repeatable)");
  upload->add_option("--label", up->labels, "KEY=VALUE label (repeatable)");
  upload->add_flag("--async", up->async, "Return at once with the operation");
  upload->callback([flags, up] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(auto labels, ParsePairs(up->labels, "--label"));
      json model = {{"displayName", up->display_name},
                    {"artifactUri", up->artifact_uri},
                    {"containerSpec", {{"imageUri", up->image}}}};
      if (!up->description.empty()) model["description"] = up->description;
      if (!up->version_description.empty()) model["versionDescription"] = up->version_description;
      if (!up->aliases.empty()) model["versionAliases"] = up->aliases;
      if (!labels.empty()) model["labels"] = labels;
      json body = {{"model", model}};
      if (!up->parent_model.empty()) {
        body["parentModel"] = client->ResourceName("models", up->parent_model);
      }
      if (!up->model_id.empty()) body["modelId"] = up->model_id;
      ASSIGN_OR_RETURN(
          json op,
          client->Call("POST", fmt::format("/v1/{}/models:upload", client->Parent()), &body));
      return FinishOperation(*client, op, up->async, flags->json, [](const json& r) {
        std::printf("uploaded model %s version %s\n", ShortId(Str(r, "model")).c_str(),
                    Str(r, "modelVersionId").c_str());
      });
    });
  });

  struct ListFlags {
    std::string filter;
    int page_size = 0;
  };
  auto list_flags = std::make_shared<ListFlags>();
  CLI::App* list = group->add_subcommand("list", "List models (at their default version)");
  list->fallthrough();
  list->add_option("--filter", list_flags->filter, "e.g. display_name=\"x\" or labels.team=\"a\"");
  list->add_option("--page-size", list_flags->page_size, "Fetch one page of this size");
  list->callback([flags, list_flags] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(json all, ListAll(*client, fmt::format("/v1/{}/models", client->Parent()),
                                         "models", list_flags->filter, list_flags->page_size));
      if (flags->json) {
        PrintJson(all);
      } else {
        PrintModelRows(all["models"], /*versions=*/false);
      }
      return absl::OkStatus();
    });
  });

  auto model_ref = std::make_shared<std::string>();
  CLI::App* get = group->add_subcommand("get", "Show a model version (MODEL, MODEL@VERSION)");
  get->fallthrough();
  get->add_option("model", *model_ref, "Model id or name")->required();
  get->callback([flags, model_ref] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(json m,
                       client->Call("GET", "/v1/" + client->ResourceName("models", *model_ref)));
      flags->json ? PrintJson(m) : PrintModel(m);
      return absl::OkStatus();
    });
  });

  CLI::App* versions = group->add_subcommand("versions", "List the versions of a model");
  versions->fallthrough();
  versions->add_option("model", *model_ref, "Model id or name")->required();
  versions->callback([flags, model_ref] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(json all, ListAll(*client,
                                         fmt::format("/v1/{}:listVersions",
                                                     client->ResourceName("models", *model_ref)),
                                         "models", "", 0));
      flags->json ? PrintJson(all) : PrintModelRows(all["models"], /*versions=*/true);
      return absl::OkStatus();
    });
  });

  auto aliases = std::make_shared<std::vector<std::string>>();
  CLI::App* set_alias = group->add_subcommand(
      "set-alias", "Add aliases to MODEL@VERSION (moving them); -ALIAS removes one");
  set_alias->fallthrough();
  set_alias->add_option("model", *model_ref, "MODEL@VERSION")->required();
  set_alias->add_option("aliases", *aliases, "Aliases")->required();
  set_alias->callback([flags, model_ref, aliases] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      json body = {{"versionAliases", *aliases}};
      ASSIGN_OR_RETURN(json m, client->Call("POST",
                                            fmt::format("/v1/{}:mergeVersionAliases",
                                                        client->ResourceName("models", *model_ref)),
                                            &body));
      if (flags->json) {
        PrintJson(m);
      } else {
        std::printf("version %s aliases: %s\n", Str(m, "versionId").c_str(),
                    Join(m.value("versionAliases", json::array())).c_str());
      }
      return absl::OkStatus();
    });
  });

  CLI::App* del = group->add_subcommand("delete", "Delete a model, or one version (MODEL@VERSION)");
  del->fallthrough();
  del->add_option("model", *model_ref, "Model id or name")->required();
  del->callback([flags, model_ref] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      const std::string name = client->ResourceName("models", *model_ref);
      ASSIGN_OR_RETURN(json op, client->Call("DELETE", "/v1/" + name));
      return FinishOperation(*client, op, false, flags->json,
                             [&](const json&) { std::printf("deleted %s\n", name.c_str()); });
    });
  });
}

}  // namespace

// client_endpoint_commands.cc
void AddEndpointCommands(CLI::App& app);
void AddOperationCommands(CLI::App& app);
// client_access_commands.cc
void AddAccessCommands(CLI::App& app);

void AddClientCommands(CLI::App& app) {
  AddModelCommands(app);
  AddEndpointCommands(app);
  AddOperationCommands(app);
  AddAccessCommands(app);
}

}  // namespace tessera::cli
