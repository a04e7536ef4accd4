#include "cli/client_util.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "auth/secret_file.h"
#include "cli/access_wiring.h"
#include "cli/serve_command.h"
#include "common/http/google_error.h"
#include "common/http/url.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace tessera::cli {

using nlohmann::json;

// How long `upload` / `deploy` wait for their operation unless --async.
static std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

void AddCommonFlags(CLI::App* group, CommonFlags& flags) {
  group->add_option("--server", flags.server,
                    "Tessera server URL (default $TESSERA_SERVER or http://127.0.0.1:8080)");
  group->add_option("--project", flags.project, "Project (default $TESSERA_PROJECT or default)");
  group->add_option("--location", flags.location,
                    "Location (default $TESSERA_LOCATION or us-central1)");
  group->add_option("--api-key-file", flags.api_key_file,
                    "A file holding the API key (default $TESSERA_API_KEY, else, for a server on "
                    "this machine, its DATA_DIR/admin.key)");
  group->add_option("--ca-cert", flags.ca_cert,
                    "PEM certificates to trust for an https --server (default $TESSERA_CA_CERT)");
  group->add_flag("--json", flags.json, "Print the API's JSON instead of a table");
}

namespace {

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host.starts_with("127.") || host == "::1";
}

// The key to send to `server`. The data dir's admin key is a key for every project of the
// server on this machine: it is offered only to a loopback (or unix socket) server, never to
// whatever --server names elsewhere.
absl::StatusOr<std::string> ApiKey(const CommonFlags& flags, const std::string& server) {
  absl::StatusOr<http::Url> url = http::ParseUrl(server);
  const bool local =
      url.ok() && (url->scheme == http::Url::Scheme::kUnix || IsLoopbackHost(url->host));
  std::string key;
  if (!flags.api_key_file.empty()) {
    absl::StatusOr<std::string> from_file = auth::ReadSecretFile(flags.api_key_file);
    if (!from_file.ok()) {
      return absl::Status(
          from_file.status().code(),
          fmt::format("--api-key-file: {}", std::string(from_file.status().message())));
    }
    key = *from_file;
  } else if (const std::string from_env = EnvOr("TESSERA_API_KEY", ""); !from_env.empty()) {
    key = from_env;
  } else if (!local) {
    if (std::filesystem::exists(DefaultDataDir() / kAdminKeyFile)) {
      std::fprintf(stderr,
                   "note: not sending this machine's admin key (%s) to %s, which is not on this "
                   "machine; give --api-key-file or $TESSERA_API_KEY\n",
                   (DefaultDataDir() / kAdminKeyFile).c_str(), server.c_str());
    }
  } else {
    const std::filesystem::path admin_key = DefaultDataDir() / kAdminKeyFile;
    absl::StatusOr<std::string> admin = auth::ReadSecretFile(admin_key);
    if (admin.ok()) {
      key = *admin;
    } else if (absl::IsFailedPrecondition(admin.status())) {
      return admin.status();  // a key file others may read: say so rather than use it
    }  // missing or unreadable: no key (the server answers 401, and the CLI says where it looked)
  }
  if (!key.empty() && url.ok() && url->scheme == http::Url::Scheme::kHttp && !local) {
    std::fprintf(stderr,
                 "warning: sending an API key to %s over plain HTTP; anyone on the way can read "
                 "it (use https://)\n",
                 server.c_str());
  }
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RestClient>> Connect(const CommonFlags& flags) {
  ClientTarget target;
  target.server = flags.server.empty() ? EnvOr("TESSERA_SERVER", kDefaultServer) : flags.server;
  target.project =
      flags.project.empty() ? EnvOr("TESSERA_PROJECT", kDefaultProject) : flags.project;
  target.location =
      flags.location.empty() ? EnvOr("TESSERA_LOCATION", kDefaultLocation) : flags.location;
  target.ca_file = flags.ca_cert.empty() ? EnvOr("TESSERA_CA_CERT", "") : flags.ca_cert;
  ASSIGN_OR_RETURN(target.api_key, ApiKey(flags, target.server));
  return RestClient::Create(target);
}

void PrintJson(const json& j) { std::printf("%s\n", j.dump(2).c_str()); }

std::string Join(const json& array, const char* separator) {
  std::string out;
  if (!array.is_array()) return out;
  for (const json& e : array) {
    if (!out.empty()) out += separator;
    out += e.is_string() ? e.get<std::string>() : e.dump();
  }
  return out;
}

std::string JoinMap(const json& object) {
  std::string out;
  if (!object.is_object()) return out;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (!out.empty()) out += ",";
    out += it.key() + "=" +
           (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  }
  return out;
}

std::string Str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// "k=v" strings -> map; INVALID_ARGUMENT naming the bad one.
absl::StatusOr<std::map<std::string, std::string>> ParsePairs(const std::vector<std::string>& items,
                                                              const char* flag) {
  std::map<std::string, std::string> out;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(fmt::format("{} \"{}\": expected KEY=VALUE", flag, item));
    }
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

// "1=60,2=40" or "0=100" -> trafficSplit JSON.
absl::StatusOr<json> ParseSplit(const std::string& text) {
  json split = json::object();
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(start, comma - start);
    const size_t eq = item.find('=');
    char* end = nullptr;
    const long pct = eq == std::string::npos ? -1 : std::strtol(item.c_str() + eq + 1, &end, 10);
    if (eq == std::string::npos || eq == 0 || end == nullptr || *end != '\0' || pct < 0) {
      return absl::InvalidArgumentError(
          fmt::format("--traffic-split \"{}\": expected DEPLOYED_MODEL_ID=PERCENT[,...]", text));
    }
    split[item.substr(0, eq)] = pct;
    start = comma + 1;
  }
  return split;
}

// Runs `body`, turning an error into "error: CODE: message" and exit status 1.
void Run(const std::function<absl::Status()>& body) {
  const absl::Status status = body();
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", http::CodeName(status.code()).c_str(),
                 std::string(status.message()).c_str());
    throw CLI::RuntimeError(1);
  }
}

// Fetches every page of a list (or one page of `page_size` when set).
absl::StatusOr<json> ListAll(RestClient& client, const std::string& path, const char* field,
                             const std::string& filter, int page_size) {
  json items = json::array();
  std::string token;
  while (true) {
    std::string query = fmt::format("?pageSize={}", page_size > 0 ? page_size : 1000);
    if (!filter.empty()) query += "&filter=" + http::PercentEncode(filter);
    if (!token.empty()) query += "&pageToken=" + http::PercentEncode(token);
    ASSIGN_OR_RETURN(json page, client.Call("GET", path + query));
    if (page.contains(field)) {
      for (json& item : page[field]) items.push_back(std::move(item));
    }
    token = Str(page, "nextPageToken");
    if (token.empty() || page_size > 0) break;
  }
  return json{{field, std::move(items)}};
}

// Waits for `op` unless `async`; prints the final operation (JSON) or `on_success` (tables).
absl::Status FinishOperation(RestClient& client, const json& op, bool async, bool as_json,
                             const std::function<void(const json&)>& on_success) {
  const std::string name = Str(op, "name");
  json final_op = op;
  if (!async && !op.value("done", false)) {
    if (!as_json) std::fprintf(stderr, "waiting for operation %s ...\n", ShortId(name).c_str());
    ASSIGN_OR_RETURN(final_op,
                     client.WaitOperation(name, /*show_progress=*/!as_json, kOperationTimeout));
  }
  if (as_json) {
    PrintJson(final_op);
  } else if (!final_op.value("done", false)) {
    std::printf("operation %s started (running; `tessera operations wait %s`)\n", name.c_str(),
                ShortId(name).c_str());
  }
  RETURN_IF_ERROR(OperationError(final_op));
  if (!as_json && final_op.value("done", false)) on_success(final_op.value("response", json()));
  return absl::OkStatus();
}

}  // namespace tessera::cli
