// Shared by the data-plane end-to-end tests: a real `tessera serve` on port 0 (ServeProcess), the
// vendored fashion-vit checkpoint uploaded, helpers to create endpoints, deploy, predict (with
// headers, from many threads) and run background load.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/http/http_client.h"
#include "e2e/control_plane_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/synthetic_checkpoint.h"

namespace tessera::testing {

// Polls `predicate` every 50 ms for up to `timeout`; its last answer.
template <typename F>
bool Eventually(F predicate, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (predicate()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return predicate();
}

inline constexpr char kDataPlaneLoc[] = "/v1/projects/my-project/locations/us-central1";

std::filesystem::path FashionVitDir();
std::filesystem::path FashionImage(const std::string& name);  // data/images/fashion/<name>
std::string ReadBytes(const std::filesystem::path& path);
// {"instances":[{"string_input":{"b64":...}}, ...]} for the files.
nlohmann::json PredictBody(const std::vector<std::filesystem::path>& images);

struct PredictReply {
  int status = 0;  // 0: transport error (see error)
  nlohmann::json body;
  std::string raw;
  std::string error;
  http::HttpHeaders headers;
};

class DataPlaneTest : public ::testing::Test {
 public:
  struct LoadResult {
    int ok = 0;
    std::vector<std::string> failures;  // "<status>: <body or error>"
    std::map<std::string, int> by_deployed_model;
  };

 protected:
  // Starts the server (extra args, environment already set by the test) and uploads fashion-vit.
  void StartServer(const std::vector<std::string>& extra_args = {});
  void TearDown() override;

  // Uploads fashion-vit as a new model (or a new version of `parent_model`); returns its name.
  std::string Upload(const std::string& display_name, const std::string& parent_model = "");
  std::string CreateEndpoint(const std::string& display_name = "ep");
  // Deploys `model` (may end in @version) with min/max replicas; waits for the operation; returns
  // the deployed model id ("" and a test failure on error).
  std::string Deploy(const std::string& endpoint, const std::string& model, int min, int max,
                     const nlohmann::json& split = nullptr);
  // The deploy operation's final reply (for failure tests).
  ServeProcess::Reply DeployReply(const std::string& endpoint, const nlohmann::json& deployed_model,
                                  const nlohmann::json& split);
  ServeProcess::Reply Undeploy(const std::string& endpoint, const std::string& id,
                               const nlohmann::json& split);
  // GET .../replicas of one deployed model.
  nlohmann::json Replicas(const std::string& endpoint, const std::string& id);

  PredictReply Post(const std::string& target, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers = {});
  PredictReply Predict(const std::string& endpoint, const nlohmann::json& body,
                       const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Post("/v1/" + endpoint + ":predict", body.dump(), headers);
  }

  // Background load: `threads` clients sending `body` to `endpoint` until StopLoad().
  void StartLoad(const std::string& endpoint, const nlohmann::json& body, int threads);
  LoadResult StopLoad();
  int LoadCompleted() const { return load_done_.load(); }

  ScopedTempDir tmp_;
  std::unique_ptr<ServeProcess> server_;
  std::unique_ptr<http::HttpClient> client_;

 private:
  std::atomic<bool> load_stop_{false};
  std::atomic<int> load_done_{0};
  std::vector<std::thread> load_threads_;
  std::mutex load_mu_;
  LoadResult load_result_;
};

}  // namespace tessera::testing
