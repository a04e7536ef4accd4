// The CLI's client of the control-plane REST API (cli/client_commands.h): resource names from
// short ids, JSON calls with Google errors turned back into absl::Status, operation polling with
// progress, and plain-text tables. Used from the CLI's main thread only.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/http_client.h"
#include "nlohmann/json.hpp"

namespace tessera::cli {

// Where the CLI talks to; filled from flags and the environment.
struct ClientTarget {
  std::string server;    // --server, $TESSERA_SERVER, or http://127.0.0.1:8080
  std::string project;   // --project, $TESSERA_PROJECT, or "default"
  std::string location;  // --location, $TESSERA_LOCATION, or "us-central1"
  std::string api_key;   // sent as "Authorization: Bearer"; "" sends none
  std::string ca_file;   // extra trusted certificates for https (--ca-cert, $TESSERA_CA_CERT)
};

inline constexpr char kDefaultServer[] = "http://127.0.0.1:8080";
inline constexpr char kDefaultProject[] = "default";
inline constexpr char kDefaultLocation[] = "us-central1";

class RestClient {
 public:
  static absl::StatusOr<std::unique_ptr<RestClient>> Create(const ClientTarget& target);

  // `method` ("GET", ...) on `path_and_query` ("/v1/..."), with `body` unless null. Returns the
  // response JSON for 2xx, else the Google error as a Status (message kept). When
  // `stage` is given it receives the operation progress headers ("40% COPYING_ARTIFACT").
  absl::StatusOr<nlohmann::json> Call(std::string_view method, const std::string& path_and_query,
                                      const nlohmann::json* body = nullptr,
                                      std::string* stage = nullptr);

  const ClientTarget& target() const { return target_; }
  // projects/{p}/locations/{l}
  std::string Parent() const;
  // A full resource name is kept; a bare id ("7", "7@2", "my-model@prod") is placed under
  // Parent()/{collection}/.
  std::string ResourceName(std::string_view collection, std::string_view id_or_name) const;

  // Polls `operation_name` with :wait until done or `timeout`; with `show_progress`, one line per
  // change of progress on stderr. Returns the done operation; a failed operation is returned as
  // is (the caller reports its error); DEADLINE_EXCEEDED if still running at `timeout`.
  absl::StatusOr<nlohmann::json> WaitOperation(const std::string& operation_name,
                                               bool show_progress, absl::Duration timeout);

 private:
  RestClient(ClientTarget target, std::unique_ptr<http::HttpClient> http)
      : target_(std::move(target)), http_(std::move(http)) {}
  ClientTarget target_;
  std::unique_ptr<http::HttpClient> http_;
};

// The status of a done operation JSON: OK, or its "error" {code, message}.
absl::Status OperationError(const nlohmann::json& operation);

// The last segment of a resource name ("projects/p/locations/l/models/7" -> "7").
std::string ShortId(std::string_view name);

// Prints rows under a header with columns padded to the widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

}  // namespace tessera::cli
