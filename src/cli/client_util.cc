#include "cli/client_util.h"

#include <cstdio>
#include <cstdlib>

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
  group->add_flag("--json", flags.json, "Print the API's JSON instead of a table");
}

absl::StatusOr<std::unique_ptr<RestClient>> Connect(const CommonFlags& flags) {
  ClientTarget target;
  target.server = flags.server.empty() ? EnvOr("TESSERA_SERVER", kDefaultServer) : flags.server;
  target.project =
      flags.project.empty() ? EnvOr("TESSERA_PROJECT", kDefaultProject) : flags.project;
  target.location =
      flags.location.empty() ? EnvOr("TESSERA_LOCATION", kDefaultLocation) : flags.location;
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
