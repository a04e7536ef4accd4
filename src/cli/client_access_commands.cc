// The CLI's access commands (docs/security.md), thin clients of the admin API
// (serving/rest/admin_api.h):
//   tessera keys create|list|get|update|revoke
//   tessera quotas get|set
// and `tessera endpoints rate-limit` (registered with the endpoint commands).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/api_key_secret.h"
#include "cli/client_commands.h"
#include "cli/client_util.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tessera::cli {
namespace {

using nlohmann::json;

std::string RateLimitText(const json& key) {
  if (!key.contains("rateLimit")) return "";
  const json& r = key["rateLimit"];
  return fmt::format("{}/s burst {}", r.value("requestsPerSecond", 0.0), r.value("burst", 0));
}

void PrintKey(const json& k) {
  PrintTable({"FIELD", "VALUE"}, {
                                     {"id", Str(k, "keyId")},
                                     {"display name", Str(k, "displayName")},
                                     {"role", Str(k, "role")},
                                     {"projects", Join(k.value("projects", json::array()))},
                                     {"endpoints", Join(k.value("endpoints", json::array()))},
                                     {"state", Str(k, "state")},
                                     {"created", Str(k, "createTime")},
                                     {"created by", Str(k, "createdBy")},
                                     {"expires", Str(k, "expireTime")},
                                     {"revoked", Str(k, "revokeTime")},
                                     {"rate limit", RateLimitText(k)},
                                 });
}

// A key id from what the user typed: a whole key is cut to its id, so the secret never goes
// into a URL (where proxies and logs would keep it).
std::string KeyIdArg(const std::string& arg) {
  if (std::optional<std::string_view> id = auth::KeyIdOf(arg)) return std::string(*id);
  return arg;
}

// --rate-limit R [--burst B] as the API's rateLimit; nullopt when no rate was given. A burst
// without a rate, or a rate that is not positive, is refused (not silently dropped).
absl::StatusOr<std::optional<json>> RateLimitJson(const std::optional<double>& rate,
                                                  const std::optional<int64_t>& burst,
                                                  const char* rate_flag) {
  if (!rate) {
    if (burst) return absl::InvalidArgumentError(fmt::format("--burst needs {}", rate_flag));
    return std::nullopt;
  }
  if (*rate <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("{} must be positive (to remove a limit, use its removing flag)", rate_flag));
  }
  json limit = {{"requestsPerSecond", *rate}};
  if (burst) limit["burst"] = *burst;
  return limit;
}

void AddKeyCommands(CLI::App& app) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* group = app.add_subcommand("keys", "Manage API keys (admin keys only)");
  group->require_subcommand(1);
  AddCommonFlags(group, *flags);

  struct Create {
    std::string display_name, role, expire_in, expire_time;
    std::vector<std::string> projects, endpoints;
    std::optional<double> rate;
    std::optional<int64_t> burst;
  };
  auto c = std::make_shared<Create>();
  CLI::App* create = group->add_subcommand(
      "create", "Create a key; prints its secret once (store it: the server keeps only a hash)");
  create->fallthrough();
  create->add_option("--role", c->role, "viewer, predictor, deployer or admin")
      ->required()
      ->check(CLI::IsMember({"viewer", "predictor", "deployer", "admin"}));
  create
      ->add_option("--projects", c->projects,
                   "Projects the key may act in, comma-separated (\"*\": every project)")
      ->required()
      ->delimiter(',');
  create
      ->add_option("--endpoints", c->endpoints,
                   "Predictor keys: endpoints it may call, comma-separated (ids in the key's "
                   "project, or full names)")
      ->delimiter(',');
  create->add_option("--display-name", c->display_name, "What the key is for");
  create->add_option("--expire-in", c->expire_in, "Lifetime, e.g. 3600s (default: never)");
  create->add_option("--expire-time", c->expire_time, "RFC 3339 expiry, e.g. 2027-01-01T00:00:00Z");
  create->add_option("--rate-limit", c->rate, "Requests per second for this key");
  create->add_option("--burst", c->burst, "Requests let through at once (default: the rate)");
  create->callback([flags, c] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      json body = {{"role", c->role}, {"projects", c->projects}};
      if (!c->display_name.empty()) body["displayName"] = c->display_name;
      if (!c->endpoints.empty()) {
        // A bare endpoint id lies in the key's project (when it has exactly one).
        json endpoints = json::array();
        for (const std::string& e : c->endpoints) {
          if (e.starts_with("projects/")) {
            endpoints.push_back(e);
          } else if (c->projects.size() == 1 && c->projects[0] != "*") {
            endpoints.push_back(fmt::format("projects/{}/locations/{}/endpoints/{}", c->projects[0],
                                            client->target().location, e));
          } else {
            return absl::InvalidArgumentError(fmt::format(
                "--endpoints {}: give the full endpoint name (projects/P/locations/L/endpoints/E) "
                "when the key has several projects",
                e));
          }
        }
        body["endpoints"] = endpoints;
      }
      if (!c->expire_in.empty()) body["ttl"] = c->expire_in;
      if (!c->expire_time.empty()) body["expireTime"] = c->expire_time;
      ASSIGN_OR_RETURN(std::optional<json> limit, RateLimitJson(c->rate, c->burst, "--rate-limit"));
      if (limit) body["rateLimit"] = *limit;
      ASSIGN_OR_RETURN(json key, client->Call("POST", "/v1/keys", &body));
      if (flags->json) {
        PrintJson(key);
      } else {
        // The secret alone on stdout, so `KEY=$(tessera keys create ...)` works; the rest on
        // stderr.
        std::fprintf(stderr, "created key %s (%s, projects %s); it is shown only now:\n",
                     Str(key, "keyId").c_str(), Str(key, "role").c_str(),
                     Join(key.value("projects", json::array())).c_str());
        std::printf("%s\n", Str(key, "keyString").c_str());
      }
      return absl::OkStatus();
    });
  });

  auto show_revoked = std::make_shared<bool>(false);
  CLI::App* list = group->add_subcommand("list", "List keys (never their secrets)");
  list->fallthrough();
  list->add_flag("--show-revoked", *show_revoked, "Include revoked keys");
  list->callback([flags, show_revoked] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(
          json all, client->Call("GET", *show_revoked ? "/v1/keys?showRevoked=true" : "/v1/keys"));
      if (flags->json) {
        PrintJson(all);
        return absl::OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const json& k : all.value("keys", json::array())) {
        rows.push_back({Str(k, "keyId"), Str(k, "role"), Join(k.value("projects", json::array())),
                        Str(k, "state"), Str(k, "expireTime"), RateLimitText(k),
                        Str(k, "displayName")});
      }
      PrintTable({"ID", "ROLE", "PROJECTS", "STATE", "EXPIRES", "RATE LIMIT", "DISPLAY NAME"},
                 rows);
      return absl::OkStatus();
    });
  });

  auto key_id = std::make_shared<std::string>();
  CLI::App* get = group->add_subcommand("get", "Show one key");
  get->fallthrough();
  get->add_option("key", *key_id, "Key id (tsk_...)")->required();
  get->callback([flags, key_id] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(json k, client->Call("GET", "/v1/keys/" + KeyIdArg(*key_id)));
      flags->json ? PrintJson(k) : PrintKey(k);
      return absl::OkStatus();
    });
  });

  struct Update {
    std::optional<double> rate;
    std::optional<int64_t> burst;
    bool no_rate_limit = false;
    std::string display_name, expire_in;
  };
  auto u = std::make_shared<Update>();
  CLI::App* update = group->add_subcommand("update", "Change a key's rate limit, name or expiry");
  update->fallthrough();
  update->add_option("key", *key_id, "Key id (tsk_...)")->required();
  update->add_option("--rate-limit", u->rate, "Requests per second");
  update->add_option("--burst", u->burst, "Requests let through at once (default: the rate)");
  update->add_flag("--no-rate-limit", u->no_rate_limit, "Remove the key's rate limit");
  update->add_option("--display-name", u->display_name, "New display name");
  update->add_option("--expire-in", u->expire_in, "New lifetime from now, e.g. 86400s");
  update->callback([flags, key_id, u] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      json body = json::object();
      std::vector<std::string> mask;
      ASSIGN_OR_RETURN(std::optional<json> limit, RateLimitJson(u->rate, u->burst, "--rate-limit"));
      if (limit && u->no_rate_limit) {
        return absl::InvalidArgumentError("give --rate-limit or --no-rate-limit, not both");
      }
      if (limit) {
        body["rateLimit"] = *limit;
        mask.push_back("rateLimit");
      } else if (u->no_rate_limit) {
        mask.push_back("rateLimit");
      }
      if (!u->display_name.empty()) {
        body["displayName"] = u->display_name;
        mask.push_back("displayName");
      }
      if (!u->expire_in.empty()) {
        body["ttl"] = u->expire_in;
        mask.push_back("expireTime");
      }
      if (mask.empty()) {
        return absl::InvalidArgumentError(
            "nothing to change: give --rate-limit, --no-rate-limit, --display-name or "
            "--expire-in");
      }
      std::string joined;
      for (const std::string& m : mask) joined += (joined.empty() ? "" : ",") + m;
      ASSIGN_OR_RETURN(
          json k,
          client->Call("PATCH", fmt::format("/v1/keys/{}?updateMask={}", KeyIdArg(*key_id), joined),
                       &body));
      flags->json ? PrintJson(k) : PrintKey(k);
      return absl::OkStatus();
    });
  });

  CLI::App* revoke =
      group->add_subcommand("revoke", "Revoke a key: it fails from its next request on");
  revoke->fallthrough();
  revoke->add_option("key", *key_id, "Key id (tsk_...)")->required();
  revoke->callback([flags, key_id] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(json k, client->Call("POST", "/v1/keys/" + KeyIdArg(*key_id) + ":revoke"));
      if (flags->json) {
        PrintJson(k);
      } else {
        std::printf("revoked %s at %s\n", Str(k, "keyId").c_str(), Str(k, "revokeTime").c_str());
      }
      return absl::OkStatus();
    });
  });
}

void PrintQuota(const json& q) {
  std::vector<std::vector<std::string>> rows;
  const json quota = q.value("quota", json::object());
  const json usage = q.value("usage", json::object());
  for (const char* name : {"endpoints", "deployedModels", "replicas", "cpuCores"}) {
    rows.push_back({name, quota.contains(name) ? quota[name].dump() : "no limit",
                    usage.contains(name) ? usage[name].dump() : "0"});
  }
  PrintTable({"QUOTA", "LIMIT", "USED"}, rows);
}

void AddQuotaCommands(CLI::App& app) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* group = app.add_subcommand("quotas", "Show or set a project's quotas");
  group->require_subcommand(1);
  AddCommonFlags(group, *flags);

  CLI::App* get = group->add_subcommand("get", "The project's quotas and what it uses");
  get->fallthrough();
  get->callback([flags] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      ASSIGN_OR_RETURN(json q, client->Call("GET", fmt::format("/v1/projects/{}/quotas",
                                                               client->target().project)));
      flags->json ? PrintJson(q) : PrintQuota(q);
      return absl::OkStatus();
    });
  });

  struct Set {
    std::optional<int64_t> endpoints, deployed_models, replicas, cpu_cores;
  };
  auto s = std::make_shared<Set>();
  CLI::App* set = group->add_subcommand(
      "set", "Set quotas (-1 removes one); needs an admin key for every project");
  set->fallthrough();
  set->add_option("--endpoints", s->endpoints, "Endpoints");
  set->add_option("--deployed-models", s->deployed_models, "Deployed models");
  set->add_option("--replicas", s->replicas, "Replicas, at each model's max replica count");
  set->add_option("--cpu-cores", s->cpu_cores, "vCPUs, max replicas x the machine type's");
  set->callback([flags, s] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      json body = json::object();
      if (s->endpoints) body["endpoints"] = *s->endpoints;
      if (s->deployed_models) body["deployedModels"] = *s->deployed_models;
      if (s->replicas) body["replicas"] = *s->replicas;
      if (s->cpu_cores) body["cpuCores"] = *s->cpu_cores;
      if (body.empty()) {
        return absl::InvalidArgumentError(
            "nothing to set: give --endpoints, --deployed-models, --replicas or --cpu-cores");
      }
      ASSIGN_OR_RETURN(
          json q,
          client->Call("PATCH", fmt::format("/v1/projects/{}/quotas", client->target().project),
                       &body));
      flags->json ? PrintJson(q) : PrintQuota(q);
      return absl::OkStatus();
    });
  });
}

}  // namespace

void AddEndpointRateLimitCommand(CLI::App& endpoints, std::shared_ptr<CommonFlags> flags) {
  struct Limit {
    std::string endpoint;
    std::optional<double> rate;
    std::optional<int64_t> burst;
    bool clear = false;
  };
  auto l = std::make_shared<Limit>();
  CLI::App* cmd = endpoints.add_subcommand(
      "rate-limit", "Show, set (--rate) or remove (--clear) an endpoint's predict rate limit");
  cmd->fallthrough();
  cmd->add_option("endpoint", l->endpoint, "Endpoint id or name")->required();
  cmd->add_option("--rate", l->rate, "Predicts per second, every caller together");
  cmd->add_option("--burst", l->burst, "Predicts let through at once (default: the rate)");
  cmd->add_flag("--clear", l->clear, "Remove the limit");
  cmd->callback([flags, l] {
    Run([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto client, Connect(*flags));
      const std::string path =
          fmt::format("/v1/{}/rateLimit", client->ResourceName("endpoints", l->endpoint));
      json result;
      ASSIGN_OR_RETURN(std::optional<json> limit, RateLimitJson(l->rate, l->burst, "--rate"));
      if (limit && l->clear) return absl::InvalidArgumentError("give --rate or --clear, not both");
      if (l->clear) {
        ASSIGN_OR_RETURN(result, client->Call("DELETE", path));
      } else if (limit) {
        ASSIGN_OR_RETURN(result, client->Call("PATCH", path, &*limit));
      } else {
        ASSIGN_OR_RETURN(result, client->Call("GET", path));
      }
      if (flags->json) {
        PrintJson(result);
      } else if (result.contains("requestsPerSecond")) {
        std::printf("%s: %g predicts/s, burst %lld\n", Str(result, "endpoint").c_str(),
                    result.value("requestsPerSecond", 0.0),
                    static_cast<long long>(result.value("burst", int64_t{0})));
      } else {
        std::printf("%s: no rate limit\n", Str(result, "endpoint").c_str());
      }
      return absl::OkStatus();
    });
  });
}

void AddAccessCommands(CLI::App& app) {
  AddKeyCommands(app);
  AddQuotaCommands(app);
}

}  // namespace tessera::cli
