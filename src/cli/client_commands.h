// The CLI's thin client of the control-plane REST API (docs/rest-api.md):
//   tessera models upload|list|get|versions|set-alias|delete
//   tessera endpoints create|list|get|deploy|undeploy|set-traffic|delete
//   tessera operations list|get|wait
//   tessera keys create|list|get|update|revoke, tessera quotas get|set,
//   tessera endpoints rate-limit (client_access_commands.cc)
// Common flags (on any of them): --server URL (default $TESSERA_SERVER or
// http://127.0.0.1:8080), --api-key-file / --ca-cert (client_util.h: the key defaults to
// $TESSERA_API_KEY, else the server's DATA_DIR/admin.key), --project / --location (default
// $TESSERA_PROJECT / $TESSERA_LOCATION or default / us-central1), --json (print the API's JSON
// instead of tables). Resources may be named by id ("7", "7@2") or by full resource name. `models
// upload` and `endpoints deploy` / `undeploy` wait for their operation, printing progress on
// stderr, unless --async. Exit status: 0 on success, 1 when the API (or the awaited operation)
// reports an error, which is printed on stderr as "error: CODE: message".
#pragma once

#include "CLI/CLI.hpp"

namespace tessera::cli {

// Registers `models`, `endpoints`, `operations`, `keys` and `quotas` on `app`.
void AddClientCommands(CLI::App& app);

}  // namespace tessera::cli
