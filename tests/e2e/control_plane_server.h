// Runs the real `tessera serve --listen 127.0.0.1:0 --data-dir DIR [args...]` as a child process
// for end-to-end tests, reads the port from its start line, and talks to it over HTTP with the
// admin key the first start wrote to DIR/admin.key (authentication is on, as for users). Also
// runs the CLI (`tessera models ...`) as a child and captures its output.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/http_client.h"
#include "nlohmann/json.hpp"

namespace tessera::testing {

class ServeProcess {
 public:
  // Starts the server and waits (up to `timeout`) for its start line. The server's stderr goes
  // to DATA_DIR/../serve-<n>.log so a failing test can show it.
  static absl::StatusOr<std::unique_ptr<ServeProcess>> Start(
      const std::filesystem::path& data_dir, const std::vector<std::string>& extra_args = {},
      absl::Duration timeout = absl::Seconds(30));
  // SIGKILLs the server if it still runs.
  ~ServeProcess();

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The admin key from DATA_DIR/admin.key ("" with --auth=none); Call() sends it.
  const std::string& admin_key() const { return admin_key_; }
  // "Authorization: Bearer <admin key>", for a test's own requests.
  std::pair<std::string, std::string> AuthHeader() const {
    return {"Authorization", "Bearer " + admin_key_};
  }
  pid_t pid() const { return pid_; }
  const std::string& start_line() const { return start_line_; }

  // Sends `signal` and waits up to `timeout` for the exit; returns the exit status (128+signal
  // when killed by a signal), DEADLINE_EXCEEDED if it did not exit.
  absl::StatusOr<int> Stop(int signal, absl::Duration timeout = absl::Seconds(20));
  // The server's stderr so far.
  std::string Log() const;

  struct Reply {
    int status = 0;
    nlohmann::json body;  // discarded (is_discarded()) when the body is not JSON
    std::string raw;
    std::string stage;  // X-Tessera-Stage header
  };
  Reply Call(const std::string& method, const std::string& target, const std::string& body = "");
  Reply Call(const std::string& method, const std::string& target, const nlohmann::json& body) {
    return Call(method, target, body.dump());
  }
  // The same with another key ("" sends none).
  Reply CallAs(const std::string& key, const std::string& method, const std::string& target,
               const std::string& body = "");
  // Polls GET on the operation until done (or `timeout`); returns the last reply.
  Reply PollOperation(const std::string& name, absl::Duration timeout = absl::Seconds(60));

 private:
  ServeProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string start_line_;
  std::string admin_key_;
  std::filesystem::path log_path_;
  std::unique_ptr<http::HttpClient> client_;
};

struct CliResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};
// A loopback port nothing listens on right now (bound and released; 0 if that failed). The
// kernel hands out ephemeral ports in turn, so another test taking it meanwhile is unlikely.
int FreeLoopbackPort();

// Runs `tessera args...` with `env` added ("NAME=value"), waits, captures stdout and stderr. The
// CLI finds its key in $TESSERA_API_KEY or its data dir's admin.key (pass TESSERA_DATA_DIR).
CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

}  // namespace tessera::testing
