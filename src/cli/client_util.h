// Shared pieces of the CLI's client commands (client_commands.cc, client_endpoint_commands.cc):
// common flags, connection, JSON/table printing helpers, list paging, operation waiting and the
// error-to-exit-status convention. Main thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/rest_client.h"
#include "nlohmann/json.hpp"

namespace tessera::cli {

// How long `upload` / `deploy` / `undeploy` wait for their operation unless --async.
inline constexpr absl::Duration kOperationTimeout = absl::Hours(2);

struct CommonFlags {
  std::string server;
  std::string project;
  std::string location;
  std::string api_key_file;
  std::string ca_cert;
  bool json = false;
};

// --server, --project, --location, --api-key-file, --ca-cert, --json on a command group; leaves
// use fallthrough() so the flags may also follow the leaf command.
void AddCommonFlags(CLI::App* group, CommonFlags& flags);
// A client for the flags, with the environment and built-in defaults filled in. The API key:
// --api-key-file, else $TESSERA_API_KEY, else -- for a server on loopback or a unix socket
// only -- the admin key `tessera serve` wrote to its data dir ($TESSERA_DATA_DIR or the
// default, DATA_DIR/admin.key), else none. A key sent over plain HTTP to another host is
// warned about on stderr.
absl::StatusOr<std::unique_ptr<RestClient>> Connect(const CommonFlags& flags);

void PrintJson(const nlohmann::json& j);
// Elements of a JSON array joined by `separator`.
std::string Join(const nlohmann::json& array, const char* separator = ",");
// k=v,k2=v2 from a JSON object.
std::string JoinMap(const nlohmann::json& object);
// j[key] when it is a string, else "".
std::string Str(const nlohmann::json& j, const char* key);

// "k=v" strings -> map; INVALID_ARGUMENT naming `flag` and the bad item.
absl::StatusOr<std::map<std::string, std::string>> ParsePairs(const std::vector<std::string>& items,
                                                              const char* flag);
// "1=60,2=40" (or "0=100" on deploy) -> trafficSplit JSON.
absl::StatusOr<nlohmann::json> ParseSplit(const std::string& text);

// Runs `body`; an error is printed as "error: CODE: message" and exits with status 1 (through
// CLI::RuntimeError).
void Run(const std::function<absl::Status()>& body);

// Every page of a list (or one page of `page_size` when > 0) as {field: [...]}.
absl::StatusOr<nlohmann::json> ListAll(RestClient& client, const std::string& path,
                                       const char* field, const std::string& filter, int page_size);

// Waits for `op` unless `async` (progress on stderr), then prints the final operation (JSON
// mode) or calls `on_success` with its response (table mode). Returns the operation's error.
absl::Status FinishOperation(RestClient& client, const nlohmann::json& op, bool async, bool as_json,
                             const std::function<void(const nlohmann::json&)>& on_success);

}  // namespace tessera::cli
