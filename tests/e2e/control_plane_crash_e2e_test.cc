// kill -9 of the real server in the middle of an upload, then a restart on the same data dir: the
// interrupted operation is reported failed (UNAVAILABLE, code 14), no model or version appears,
// no artifact file is left, and the same upload then succeeds.
//
// The upload is held mid-way deterministically: its artifactUri is an http:// archive served by
// a test socket that sends the headers and a few bytes, then stalls until the test ends.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "e2e/control_plane_server.h"
#include "gtest/gtest.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/test_paths.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kLoc[] = "/v1/projects/p/locations/us-central1";

// Accepts HTTP connections on 127.0.0.1 and answers each with a 200 whose body never completes.
class StallingHttpServer {
 public:
  StallingHttpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 8);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~StallingHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (int c : clients_) ::close(c);
  }
  int port() const { return port_; }
  int requests() const { return requests_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      char buf[4096];
      (void)::read(c, buf, sizeof(buf));  // the request; its content does not matter
      const std::string head =
          "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: 100000000\r\n\r\n"
          "\x1f\x8b";
      (void)::write(c, head.data(), head.size());
      clients_.push_back(c);  // keep it open: the body never finishes
      requests_.fetch_add(1);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::vector<int> clients_;
  std::thread thread_;
};

size_t CountFiles(const fs::path& dir) {
  size_t n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

TEST(ControlPlaneCrashE2E, KillDuringUploadThenRestart) {
  ScopedTempDir tmp;
  const fs::path data = tmp.path() / "data";
  StallingHttpServer stall;
  std::string op_name;
  {
    // The stalling server listens on loopback, which uploads may reach only with the flag.
    auto server = ServeProcess::Start(data, {"--allow-private-artifact-hosts"});
    ASSERT_TRUE(server.ok()) << server.status();
    ServeProcess& s = **server;
    json body = {
        {"model",
         {{"displayName", "stalled"},
          {"artifactUri", "http://127.0.0.1:" + std::to_string(stall.port()) + "/model.tar.gz"},
          {"containerSpec", {{"imageUri", "tessera/vit"}}}}}};
    auto up = s.Call("POST", std::string(kLoc) + "/models:upload", body);
    ASSERT_EQ(up.status, 200) << up.raw;
    op_name = up.body["name"];
    // Wait until the download started (the operation is then mid-way), then kill -9.
    for (int i = 0; i < 500 && stall.requests() == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
    ASSERT_GT(stall.requests(), 0) << s.Log();
    auto running = s.Call("GET", "/v1/" + op_name);
    EXPECT_EQ(running.body["done"], false) << running.raw;
    EXPECT_EQ(*s.Stop(SIGKILL), 128 + SIGKILL);
  }

  auto server = ServeProcess::Start(data);
  ASSERT_TRUE(server.ok()) << server.status();
  ServeProcess& s = **server;
  auto op = s.Call("GET", "/v1/" + op_name);
  ASSERT_EQ(op.status, 200) << op.raw;
  EXPECT_EQ(op.body["done"], true) << op.raw;
  ASSERT_TRUE(op.body.contains("error")) << op.raw;
  EXPECT_EQ(op.body["error"]["code"], 14);  // UNAVAILABLE
  EXPECT_NE(op.body["error"]["message"].get<std::string>().find("restart"), std::string::npos);
  auto running = s.Call("GET", std::string(kLoc) + "/operations?filter=done%3Dfalse");
  EXPECT_EQ(running.body.value("operations", json::array()).size(), 0u) << running.raw;
  EXPECT_EQ(s.Call("GET", std::string(kLoc) + "/models").body.value("models", json::array()).size(),
            0u);
  EXPECT_EQ(CountFiles(data / "artifacts" / "blobs"), 0u);
  EXPECT_EQ(CountFiles(data / "artifacts" / "tmp"), 0u);

  // The registry still works: the same model uploads from a local folder.
  json body = {{"model",
                {{"displayName", "fashion"},
                 {"artifactUri", (VendoredDataDir() / "models" / "fashion-vit").string()},
                 {"containerSpec", {{"imageUri", "tessera/vit"}}}}}};
  auto up = s.Call("POST", std::string(kLoc) + "/models:upload", body);
  ASSERT_EQ(up.status, 200) << up.raw;
  auto done = s.PollOperation(up.body["name"]);
  EXPECT_TRUE(done.body.contains("response")) << done.raw;
}

TEST(ControlPlaneCrashE2E, KillAtRandomMomentsKeepsRegistryConsistent) {
  // Uploads of the real checkpoint interrupted by kill -9 at varying delays: after each restart
  // nothing runs, every listed model reads back, and its version has its files.
  ScopedTempDir tmp;
  const fs::path data = tmp.path() / "data";
  const std::string uri = (VendoredDataDir() / "models" / "fashion-vit").string();
  for (int round = 0; round < 4; ++round) {
    auto server = ServeProcess::Start(data);
    ASSERT_TRUE(server.ok()) << server.status();
    ServeProcess& s = **server;
    auto running = s.Call("GET", std::string(kLoc) + "/operations?filter=done%3Dfalse");
    EXPECT_EQ(running.body.value("operations", json::array()).size(), 0u) << running.raw;
    auto models = s.Call("GET", std::string(kLoc) + "/models");
    for (const json& m : models.body.value("models", json::array())) {
      auto got = s.Call("GET", "/v1/" + m["name"].get<std::string>());
      EXPECT_EQ(got.status, 200) << got.raw;
      EXPECT_EQ(got.body["tessera"]["artifactFiles"].size(), 5u);
    }
    json body = {{"model",
                  {{"displayName", "r" + std::to_string(round)},
                   {"artifactUri", uri},
                   {"containerSpec", {{"imageUri", "tessera/vit"}}}}}};
    for (int i = 0; i < 3; ++i) s.Call("POST", std::string(kLoc) + "/models:upload", body);
    absl::SleepFor(absl::Milliseconds(5 * round));
    EXPECT_EQ(*s.Stop(SIGKILL), 128 + SIGKILL);
  }
}

}  // namespace
}  // namespace tessera::testing
